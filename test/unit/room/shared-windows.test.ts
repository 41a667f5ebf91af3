/**
 * Thread-list updates on a timer shared by many rooms (party/core/room/shared-windows.ts): each
 * room still sends at most once per window, with the latest marks, and one room's failure does
 * not keep the others' updates. Real timers, short windows.
 */
import { describe, expect, it } from "vitest";
import { InboxNotifier } from "../../../party/core/room/inbox-notifier.ts";
import { SharedWindows } from "../../../party/core/room/shared-windows.ts";

const WINDOW_MS = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("rooms sharing one window timer", () => {
  it("flush each room once per window, with every mark made in it", async () => {
    const windows = new SharedWindows((error) => {
      throw error;
    });
    const flushed: Array<{ room: number; users: string[] }> = [];
    const rooms = Array.from(
      { length: 50 },
      (_, room) => new InboxNotifier(WINDOW_MS, (users) => flushed.push({ room, users }), windows.later),
    );
    for (const [i, room] of rooms.entries()) room.mark([`a${i}`]);
    for (const [i, room] of rooms.entries()) room.mark([`b${i}`, `a${i}`]);
    expect(rooms.every((r) => r.pending)).toBe(true);
    expect(flushed).toEqual([]);
    await sleep(WINDOW_MS * 3);
    expect(flushed).toHaveLength(50);
    for (const [i] of rooms.entries())
      expect(flushed.find((f) => f.room === i)?.users.sort()).toEqual([`a${i}`, `b${i}`]);
    expect(rooms.some((r) => r.pending)).toBe(false);
    // A mark after the window closed opens the next one.
    rooms[0]?.mark(["c"]);
    await sleep(WINDOW_MS * 3);
    expect(flushed.at(-1)).toEqual({ room: 0, users: ["c"] });
    expect(flushed).toHaveLength(51);
  });

  it("keeps the other rooms' updates when one room's flush throws", async () => {
    const errors: unknown[] = [];
    const windows = new SharedWindows((error) => errors.push(error));
    const flushed: number[] = [];
    const broken = new InboxNotifier(
      WINDOW_MS,
      () => {
        throw new Error("boom");
      },
      windows.later,
    );
    const fine = new InboxNotifier(WINDOW_MS, () => flushed.push(1), windows.later);
    broken.mark(["x"]);
    fine.mark(["y"]);
    await sleep(WINDOW_MS * 3);
    expect(flushed).toEqual([1]);
    expect(errors).toHaveLength(1);
  });

  it("a room on its own timer (the edge) flushes once, and an early flush cancels it", async () => {
    const flushed: string[][] = [];
    const room = new InboxNotifier(WINDOW_MS, (users) => flushed.push(users));
    room.mark(["a"]);
    room.flushNow();
    expect(flushed).toEqual([["a"]]);
    expect(room.pending).toBe(false);
    await sleep(WINDOW_MS * 3);
    expect(flushed).toEqual([["a"]]);
  });
});
