/**
 * Metric 9's room plan (bench/harness/many-rooms.ts): every sender posts only to rooms it is a
 * member of, every room has a sender, and the sends are spread evenly, whether there are more rooms
 * than senders (the 2,000 rooms) or fewer (the 8-room base with 32 senders).
 */
import { describe, expect, it } from "vitest";
import { roomPlan } from "../../bench/harness/many-rooms.ts";

describe("many rooms: roomPlan", () => {
  it.each([
    [2000, 32],
    [50, 32],
    [32, 32],
    [8, 32],
    [1, 4],
    [20, 20],
  ])("%i rooms, %i senders: sendersOf and roomsOf agree and cover everyone", (rooms, senders) => {
    const plan = roomPlan(rooms, senders);
    const roomsSeen = new Map<number, number>();
    for (let i = 0; i < senders; i++) {
      const mine = plan.roomsOf(i);
      expect(mine.length, `sender ${i}`).toBeGreaterThan(0);
      for (const c of mine) {
        expect(c).toBeGreaterThanOrEqual(0);
        expect(c).toBeLessThan(rooms);
        expect(plan.sendersOf(c), `room ${c}`).toContain(i);
        roomsSeen.set(c, (roomsSeen.get(c) ?? 0) + 1);
      }
    }
    expect(roomsSeen.size).toBe(rooms);
    // Evenly: senders per room differ by at most one, and rooms per sender too.
    const perRoom = [...roomsSeen.values()];
    expect(Math.max(...perRoom) - Math.min(...perRoom)).toBeLessThanOrEqual(1);
    const perSender = Array.from({ length: senders }, (_, i) => plan.roomsOf(i).length);
    expect(Math.max(...perSender) - Math.min(...perSender)).toBeLessThanOrEqual(1);
  });

  it("8 rooms of 32 senders: four senders a room, one room a sender", () => {
    const plan = roomPlan(8, 32);
    expect(plan.sendersOf(3)).toEqual([3, 11, 19, 27]);
    expect(plan.roomsOf(27)).toEqual([3]);
  });

  it("2,000 rooms of 32 senders: one sender a room, as before", () => {
    const plan = roomPlan(2000, 32);
    expect(plan.sendersOf(1999)).toEqual([1999 % 32]);
    expect(plan.roomsOf(0)).toHaveLength(63);
    expect(plan.roomsOf(31)).toHaveLength(62);
  });
});
