/** The log window's idempotency keys and the member table's unread arithmetic. */
import { describe, expect, it } from "vitest";
import { idempotencyKey } from "../../../party/core/content.ts";
import { Members } from "../../../party/core/room/members.ts";
import { RoomLog } from "../../../party/core/room/room-log.ts";
import { message } from "./fixtures.ts";

const header = () => ({ id: "c", title: null, lastSeq: 0, createdAt: "", lastActivityAt: "" });

describe("room log", () => {
  it("keeps the keys of the window only, and follows lastSeq and the last activity", () => {
    const log = new RoomLog(header(), 2, []);
    for (let seq = 1; seq <= 3; seq++) log.apply({ type: "message", message: message("c", seq) });
    expect(log.lastSeq).toBe(3);
    expect(log.known(idempotencyKey("a", "k1"))).toBeUndefined(); // left the window
    expect(log.known(idempotencyKey("a", "k3"))?.seq).toBe(3);
    expect(log.latest()?.seq).toBe(3);
    expect(log.conversation.lastActivityAt).toBe(message("c", 3).createdAt);
    expect(log.messageCount).toBe(3);
  });

  it("replays each entry with its message in its latest state, and never a deleted text", () => {
    const log = new RoomLog(header(), 10, []);
    const original = message("c", 1);
    log.apply({ type: "message", message: original });
    const edited = { ...original, body: "fixed", editedAt: "2026-12-01T00:01:00.000Z" };
    const editFrame = log.apply({
      type: "change",
      change: { seq: 2, target: 1, kind: "edit", userId: "a", at: edited.editedAt, body: "fixed" },
      message: edited,
    });
    // Live: the change with the state just after it.
    expect(JSON.parse(editFrame.text).message.body).toBe("fixed");
    const deleted = { ...edited, body: "", deleted: true as const, reactions: {} };
    log.apply({
      type: "change",
      change: { seq: 3, target: 1, kind: "delete", userId: "a", at: "t" },
      message: deleted,
    });
    expect(log.lastSeq).toBe(3);
    expect(log.messageCount).toBe(1);
    // Replay: every entry shows the tombstone; the edit no longer carries its text.
    const replayed = (log.after(0, 10) ?? []).map((e) => JSON.parse(e.frame.text));
    expect(replayed.map((f) => f.type)).toEqual(["message", "change", "change"]);
    expect(replayed.every((f) => f.message.deleted === true && f.message.body === "")).toBe(true);
    expect(replayed[1].change.body).toBeUndefined();
    expect(JSON.stringify(replayed)).not.toContain("fixed");
    // History reads messages only, in their latest state.
    expect(log.messagesAfter(0, 10)?.map((m) => m.body)).toEqual([""]);
    expect(log.latest()?.deleted).toBe(true);
  });

  it("keeps a state loaded for a pending change until it is released, then forgets it", () => {
    const log = new RoomLog({ ...header(), lastSeq: 50 }, 10, []);
    const old = message("c", 7);
    const release = log.pin(old);
    expect(log.stateOf(7)).toBe(old);
    release();
    expect(log.stateOf(7)).toBeUndefined();
  });
});

describe("members", () => {
  it("counts unread as others' messages above the read position, without touching every member", () => {
    // At load: lastSeq 10; a read up to 4 with 3 unread from others above it; b read nothing, 6 unread.
    const members = new Members(
      [
        { userId: "a", lastReadSeq: 4 },
        { userId: "b", lastReadSeq: 0 },
      ],
      10,
      new Map([
        ["a", 3],
        ["b", 6],
      ]),
    );
    expect(members.unread("a", 10)).toBe(3);
    expect(members.unread("b", 10)).toBe(6);
    // a sends seq 11: unread for b, not for a.
    members.sent("a");
    expect(members.unread("a", 11)).toBe(3);
    expect(members.unread("b", 11)).toBe(7);
    // b reads up to 11 (with 0 unread above): nothing unread.
    expect(members.moveRead("b", 11)).toBe(true);
    expect(members.settleRead("b", 11, 11, 0)).toBe(true);
    expect(members.unread("b", 11)).toBe(0);
    // Never backward; a settle for a position a later read passed is ignored.
    expect(members.moveRead("b", 5)).toBe(false);
    expect(members.moveRead("a", 8)).toBe(true);
    expect(members.moveRead("a", 9)).toBe(true);
    expect(members.settleRead("a", 8, 11, 2)).toBe(false);
    expect(() => members.require("zed")).toThrow(/not a member/);
  });
});
