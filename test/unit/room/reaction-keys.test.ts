/**
 * Reaction keys are any short text: names of Object.prototype's properties are keys like any
 * other (found by the OpenAPI fuzz: `DELETE …/reactions/__proto__` answered 500).
 */
import { describe, expect, it } from "vitest";
import { defaultLimits } from "../../../party/core/limits.ts";
import { applyChange, type ChangeRequest } from "../../../party/core/room/message-changes.ts";
import type { Message } from "../../../party/core/types.ts";
import { message } from "./fixtures.ts";

const AT = "2026-12-01T00:00:00.000Z";
const change = (kind: "react" | "unreact", key: string, userId: string): ChangeRequest => ({
  kind,
  target: 1,
  actor: { userId },
  key,
});

/** The message after a change (the same when the change was a no-op). */
function applied(state: Message, request: ChangeRequest): Message {
  const outcome = applyChange(state, request, AT, defaultLimits);
  return outcome.kind === "changed" ? outcome.message : state;
}

describe("reaction keys named like Object.prototype's properties", () => {
  for (const key of ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]) {
    it(`${key}: removing a missing one is a no-op; adding and removing are own keys that survive JSON`, () => {
      const start = message("c", 1);
      expect(applyChange(start, change("unreact", key, "a"), AT, defaultLimits)).toEqual({ kind: "noop" });
      const one = applied(start, change("react", key, "a"));
      const two = applied(one, change("react", key, "b"));
      expect(Object.hasOwn(two.reactions, key)).toBe(true);
      expect(JSON.parse(JSON.stringify(two.reactions))).toEqual(
        JSON.parse(`{${JSON.stringify(key)}:{"count":2,"users":["a","b"]}}`),
      );
      const back = applied(two, change("unreact", key, "a"));
      expect(Object.getPrototypeOf(back.reactions)).toBe(Object.prototype);
      expect(JSON.stringify(back.reactions)).toBe(`{${JSON.stringify(key)}:{"count":1,"users":["b"]}}`);
      expect(applied(back, change("unreact", key, "b")).reactions).toEqual({});
      expect(applied(two, change("react", key, "a"))).toBe(two); // already there: no-op
    });
  }
});
