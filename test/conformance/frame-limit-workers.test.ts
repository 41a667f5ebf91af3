import { frameLimitSuite } from "./frame-limit.ts";

/** `npm run dev:workers`: Durable Objects on local workerd. */
frameLimitSuite("cloudflare workers (npm run dev:workers)", { runtime: "workers" });
