import { conformanceSuite } from "./scenarios.ts";

/** `npm run dev:edge`: the same rooms as PartyKit parties on `partykit dev`, persisting to sqld. */
conformanceSuite({
  name: "partykit (npm run dev:edge)",
  docsPage: false,
  metrics: false,
  start: { runtime: "partykit" },
  skip: {
    "crash safety":
      "parties are restarted by the platform, not by us; durability is the libSQL server's (sqld here, Turso in production), which the remote-store test covers",
  },
});
