import { conformanceSuite } from "./scenarios.ts";

conformanceSuite({ name: "node (npm start)", start: { runtime: "node" } });
