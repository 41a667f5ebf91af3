import { edgeInboxSuite } from "./edge-inbox.ts";

/** `npm run dev:edge`: PartyKit parties on local workerd. */
edgeInboxSuite("partykit (npm run dev:edge)", { runtime: "partykit" });
