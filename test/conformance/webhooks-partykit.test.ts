import { webhooksSuite } from "./webhooks.ts";

/** `npm run dev:edge`: delivery from each party's alarm on PartyKit's local workerd. */
await webhooksSuite("partykit (npm run dev:edge)", { runtime: "partykit" });
