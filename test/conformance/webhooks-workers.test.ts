import { webhooksSuite } from "./webhooks.ts";

/** `npm run dev:workers`: delivery from each Durable Object's alarm on local workerd. */
await webhooksSuite("cloudflare workers (npm run dev:workers)", { runtime: "workers" });
