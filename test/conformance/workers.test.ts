import { conformanceSuite } from "./scenarios.ts";

/** `npm run dev:workers`: the Worker and its Durable Objects on local workerd, persisting to sqld. */
conformanceSuite({
  name: "cloudflare workers (npm run dev:workers)",
  docsPage: false,
  metrics: false,
  start: { runtime: "workers" },
  skip: {
    "crash safety":
      "Durable Objects are restarted by the platform, not by us; durability is the libSQL server's (sqld here, Turso in production), which the remote-store test covers",
  },
});
