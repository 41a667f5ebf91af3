import { frameLimitSuite } from "./frame-limit.ts";

/** `npm start`: the same rule as the edge's, from `ws`'s `maxPayload`. */
frameLimitSuite("node (npm start)", { runtime: "node" });
