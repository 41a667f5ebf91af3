import { webhooksSuite } from "./webhooks.ts";

/** `npm start`: the Node dispatcher, for parity with the edge's alarms. */
await webhooksSuite("node (npm start)", { runtime: "node" });
