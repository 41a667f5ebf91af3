/**
 * The fold of a conversation's messages on its own: states from racing sources (stream, gap
 * fill, history over HTTP) only move forward, a deletion is final, and your pending changes
 * show on top until the log shows them (or they are refused, or given up on).
 */
import { describe, expect, it } from "vitest";
import { MessageStates } from "../../client/message-state.ts";
import type { Change, Message } from "../../client/types.ts";

const msg = (over: Partial<Message> = {}): Message => ({
  id: "m1",
  conversationId: "c",
  seq: 1,
  senderId: "ann",
  clientMessageId: "k1",
  body: "one",
  createdAt: "2026-01-01T00:00:00.000Z",
  reactions: {},
  replyCount: 0,
  ...over,
});

const change = (over: Partial<Change>): Change => ({
  seq: 2,
  target: 1,
  kind: "react",
  userId: "bob",
  at: "2026-01-01T00:00:01.000Z",
  ...over,
});

describe("MessageStates", () => {
  it("keeps the newest state: an older one arriving later is ignored; a deletion is final", () => {
    const s = new MessageStates(() => "bob");
    expect(s.put(msg({ body: "v3" }), 9)).toBe(true); // read over HTTP, current at seq 9
    expect(s.put(msg({ body: "v2" }), 5)).toBe(false); // the stream, lagging behind
    expect(s.get(1)?.body).toBe("v3");
    expect(s.put(msg({ body: "", deleted: true }), 10)).toBe(true);
    expect(s.put(msg({ body: "v4" }), 11)).toBe(false);
    expect(s.get(1)).toMatchObject({ deleted: true, body: "" });
  });

  it("applies pending changes on top, in order, until the log shows them", () => {
    const s = new MessageStates(() => "bob");
    s.put(msg(), 1);
    s.add("r1", { kind: "react", seq: 1, key: "👍" });
    s.add("e1", { kind: "edit", seq: 1, body: "not mine" });
    expect(s.get(1)).toMatchObject({ body: "not mine", reactions: { "👍": { count: 1, users: ["bob"] } } });
    expect(s.known(1)?.body).toBe("one");
    // Refused: undone.
    s.remove("e1");
    expect(s.get(1)?.body).toBe("one");
    // Acknowledged, but the log has not shown it yet: still applied.
    s.ack("r1", 1);
    expect(s.get(1)?.reactions["👍"]?.count).toBe(1);
    // Another member's reaction arrives first (it does not show ours): ours stays on top.
    s.put(msg({ reactions: { "❤️": { count: 1, users: ["cy"] } } }), 2);
    s.confirm(1, change({ seq: 2, userId: "cy", key: "❤️" }));
    expect(Object.keys(s.get(1)?.reactions ?? {})).toEqual(["❤️", "👍"]);
    // Our own entry: done; the state is the relay's.
    const relay = msg({
      reactions: { "❤️": { count: 1, users: ["cy"] }, "👍": { count: 1, users: ["bob"] } },
    });
    s.put(relay, 3);
    s.confirm(1, change({ seq: 3, key: "👍" }));
    s.put(msg({ reactions: { "❤️": { count: 1, users: ["cy"] } } }), 4); // bob unreacted elsewhere
    expect(s.get(1)?.reactions).toEqual({ "❤️": { count: 1, users: ["cy"] } });
  });

  it("reaction keys named like Object.prototype properties are keys like any other", () => {
    const s = new MessageStates(() => "bob");
    s.put(msg({ reactions: JSON.parse('{"__proto__":{"count":1,"users":["cy"]}}') }), 1);
    s.add("r1", { kind: "react", seq: 1, key: "constructor" });
    s.add("r2", { kind: "react", seq: 1, key: "__proto__" });
    s.add("r3", { kind: "unreact", seq: 1, key: "toString" });
    const shown = s.get(1);
    expect(Object.getPrototypeOf(shown?.reactions)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(shown?.reactions))).toEqual(
      JSON.parse('{"__proto__":{"count":2,"users":["cy","bob"]},"constructor":{"count":1,"users":["bob"]}}'),
    );
  });

  it("an acknowledged change the log never shows is dropped on catch-up or when given up on", () => {
    const s = new MessageStates(() => "bob");
    s.put(msg(), 1);
    s.add("r1", { kind: "react", seq: 1, key: "👍" });
    s.add("r2", { kind: "react", seq: 1, key: "👀" });
    s.ack("r1", 1);
    s.ack("r2", 2);
    expect(s.caughtUp(2)).toEqual([1]); // acked before connection 2 opened: in its replay
    expect(Object.keys(s.get(1)?.reactions ?? {})).toEqual(["👀"]);
    expect(s.expire("r2")).toBe(1);
    expect(s.get(1)?.reactions).toEqual({});
    expect(s.expire("r2")).toBeUndefined();
  });

  it("an edit shows at once (with editedAt) and a delete makes a tombstone", () => {
    const s = new MessageStates(() => "ann");
    s.put(msg({ meta: { a: 1 }, reactions: { x: { count: 1, users: ["bob"] } } }), 1);
    s.add("e", { kind: "edit", seq: 1, meta: null });
    expect(s.get(1)?.meta).toBeUndefined();
    expect(typeof s.get(1)?.editedAt).toBe("string");
    s.add("d", { kind: "delete", seq: 1 });
    expect(s.get(1)).toMatchObject({ body: "", deleted: true, reactions: {} });
    expect(s.all()).toHaveLength(1);
  });
});
