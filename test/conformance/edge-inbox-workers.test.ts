import { edgeInboxSuite } from "./edge-inbox.ts";

/** `npm run dev:workers`: Durable Objects on local workerd. */
edgeInboxSuite("cloudflare workers (npm run dev:workers)", { runtime: "workers" });
