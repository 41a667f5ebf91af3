import { conformanceSuite } from "./scenarios.ts";

/** `npm run start:deno`: the same relay under the deno binary from npm (Node compatibility). */
conformanceSuite({ name: "deno (npm run start:deno)", start: { runtime: "deno" } });
