import { webhooksSuite } from "./webhooks.ts";

/** `npm run start:deno`: the same Node code (undici transport, dispatcher) under Deno. */
await webhooksSuite("deno (npm run start:deno)", { runtime: "deno" });
