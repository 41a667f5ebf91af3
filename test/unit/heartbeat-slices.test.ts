/** The gateway's heartbeat groups (party/node/heartbeat-slices.ts), with real timers. */
import { describe, expect, it } from "vitest";
import { HeartbeatSlices } from "../../party/node/heartbeat-slices.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const member = (name: string) => ({ name, heartbeatSlot: -1 });

describe("HeartbeatSlices", () => {
  it("deals members round-robin, counts each once, and iterates all of them", () => {
    const slices = new HeartbeatSlices<ReturnType<typeof member>>(60_000, () => {}, 4);
    try {
      const members = Array.from({ length: 10 }, (_, i) => member(`m${i}`));
      for (const m of members) slices.add(m);
      expect(members.map((m) => m.heartbeatSlot)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
      expect(slices.size).toBe(10);
      // Added again, a member keeps its group and is counted once.
      slices.add(members[5] as ReturnType<typeof member>);
      expect(members[5]?.heartbeatSlot).toBe(1);
      expect(slices.size).toBe(10);
      expect([...slices].length).toBe(10);
      slices.delete(members[3] as ReturnType<typeof member>);
      slices.delete(members[3] as ReturnType<typeof member>);
      expect(slices.size).toBe(9);
      expect(new Set([...slices].map((m) => m.name))).toEqual(
        new Set(members.filter((_, i) => i !== 3).map((m) => m.name)),
      );
    } finally {
      slices.stop();
    }
  });

  it("visits each member once per interval, one group per tick", async () => {
    const visits: Array<{ name: string; slot: number; at: number }> = [];
    const slices = new HeartbeatSlices<ReturnType<typeof member>>(
      400,
      (m) => visits.push({ name: m.name, slot: m.heartbeatSlot, at: performance.now() }),
      4,
    );
    try {
      for (let i = 0; i < 8; i++) slices.add(member(`m${i}`));
      // Until every member was visited twice (two intervals), at most 5 s.
      for (let i = 0; i < 100 && visits.length < 16; i++) await sleep(50);
      expect(visits.length).toBeGreaterThanOrEqual(16);
      // Groups in turn, each member once per round: slots 0,0,1,1,2,2,3,3, then again.
      expect(visits.slice(0, 16).map((v) => v.slot)).toEqual([
        0, 0, 1, 1, 2, 2, 3, 3, 0, 0, 1, 1, 2, 2, 3, 3,
      ]);
      expect(new Set(visits.slice(0, 8).map((v) => v.name)).size).toBe(8);
      // A member's visits are an interval apart (four ticks of 100 ms), never closer.
      for (const { name, at } of visits.slice(0, 8)) {
        const next = visits.slice(8).find((v) => v.name === name);
        expect((next?.at ?? 0) - at, name).toBeGreaterThanOrEqual(400 * 0.9);
      }
    } finally {
      slices.stop();
    }
  });
});
