import { frameLimitSuite } from "./frame-limit.ts";

/** `npm run dev:edge`: PartyKit parties on local workerd. */
frameLimitSuite("partykit (npm run dev:edge)", { runtime: "partykit" });
