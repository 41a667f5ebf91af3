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
    for (let seq = 1; seq <= 3; seq++) log.apply(message("c", seq));
    expect(log.lastSeq).toBe(3);
    expect(log.known(idempotencyKey("a", "k1"))).toBeUndefined(); // left the window
    expect(log.known(idempotencyKey("a", "k3"))?.seq).toBe(3);
    expect(log.latest()?.seq).toBe(3);
    expect(log.conversation.lastActivityAt).toBe(message("c", 3).createdAt);
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
