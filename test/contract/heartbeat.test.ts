/**
 * The relay's WebSocket heartbeat (Node): every socket is pinged once per `PARLEY_HEARTBEAT_MS`,
 * as before, but the sockets are pinged a group at a time over the interval, not all in one
 * turn of the event loop (issue 17: at 6,000 sockets that turn took ~170 ms, in which no send
 * was answered). A socket that answers is never cut; one that stops answering is (the chaos
 * suite's half-open test and the hardening suite's uploader test check that side).
 */

import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { sleep, uid, useServer } from "../helpers/world.ts";

const INTERVAL = 1_000;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const w = useServer({ env: { PARLEY_HEARTBEAT_MS: String(INTERVAL) } });

describe("heartbeat", () => {
  it("pings each socket once per interval, the sockets spread over the interval, and cuts none that answers", async () => {
    const users = Array.from({ length: 50 }, () => uid("hb"));
    const conv = await w.conversation(users);
    const pings = users.map(() => [] as number[]);
    const closed: number[] = [];
    const sockets = await Promise.all(
      users.map(async (user, i) => {
        const ws = new WebSocket(
          `${w.server.wsUrl}/parties/conversation/${conv}?token=${await w.token(user)}`,
        );
        // `ws` answers every ping with a pong by itself.
        ws.on("ping", () => pings[i]?.push(performance.now()));
        ws.on("close", (code) => closed.push(code));
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${user}: no synced within 10 s`)), 10_000);
          ws.on("message", (data) => {
            if (JSON.parse(String(data)).type !== "synced") return;
            clearTimeout(timer);
            resolve();
          });
          ws.on("error", reject);
        });
        return ws;
      }),
    );
    try {
      // Until every socket has had three pings (about three intervals), at most 10 s.
      for (let i = 0; i < 100 && pings.some((p) => p.length < 3); i++) await sleep(100);
      expect(closed, "sockets that answer are never cut").toEqual([]);
      expect(
        pings.every((p) => p.length >= 3),
        `pings per socket: ${pings.map((p) => p.length)}`,
      ).toBe(true);
      // Each socket is pinged once per interval, not more often (a ping less than an interval
      // after the last would give a client less time to answer before it is judged).
      const gaps = pings.flatMap((p) => p.slice(1).map((t, k) => t - (p[k] as number)));
      expect(
        Math.min(...gaps),
        `gaps between one socket's pings (ms): ${gaps.map(Math.round)}`,
      ).toBeGreaterThan(INTERVAL * 0.5);
      // The sockets' pings are spread over the interval. Before, every socket was pinged in the
      // same turn of the relay's event loop: their pings all fell at one phase of the period,
      // a few ms apart. Each ping's phase in the period, and the part of the period they cover
      // (the period less the largest empty stretch between two phases, on the circle).
      const period = median(gaps);
      const t0 = pings[0]?.[0] as number;
      const phases = pings.flat().map((t) => (((t - t0) % period) + period) % period);
      phases.sort((a, b) => a - b);
      let emptiest = (phases[0] as number) + period - (phases.at(-1) as number);
      for (let k = 1; k < phases.length; k++)
        emptiest = Math.max(emptiest, (phases[k] as number) - (phases[k - 1] as number));
      const covered = period - emptiest;
      console.log(
        `heartbeat: ${phases.length} pings of 50 sockets cover ${Math.round(covered)} ms of the ${Math.round(period)} ms period`,
      );
      expect(covered).toBeGreaterThan(period * 0.4);
    } finally {
      for (const ws of sockets) ws.terminate();
    }
  }, 30_000);
});
