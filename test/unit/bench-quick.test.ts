/**
 * The bench cannot rot: `bench/run.ts --quick` runs every metric once, small, against the relay,
 * the floor and the peers (real child processes, real sockets, real libSQL files), and must exit 0
 * with a finite number on every metric's line and no error.
 */
import { expect, it } from "vitest";
import { runBenchScript } from "../helpers/run-bench.ts";

/** Under a minute on a quiet machine (all nine metrics); a loaded 2-core one can take twice that. */
const LIMIT_MS = 170_000;

/**
 * Which sides report each metric (Socket.IO: fan-out, memory, socket sends; naive: HTTP sends and
 * many rooms; the floor: the big room too). `--quick` runs all nine, the two at scale small.
 */
const EXPECTED: Record<string, string[]> = {
  fanout: ["floor", "relay", "socketio"],
  http: ["floor", "relay", "naive"],
  memory: ["floor", "relay", "socketio"],
  socket: ["floor", "relay", "socketio"],
  reactions: ["relay"],
  webhooks: ["relay"],
  presence: ["relay"],
  bigroom: ["floor", "relay"],
  manyrooms: ["relay", "naive"],
};

const runQuick = () => runBenchScript("bench/run.ts", ["--quick", "--json"], LIMIT_MS);

it(
  "bench --quick runs every metric on every side and reports finite numbers",
  async () => {
    const { code, stdout, stderr } = await runQuick();
    const context = `${stdout.slice(-4000)}\n${stderr.slice(-2000)}`;
    expect(code, context).toBe(0);
    expect(stdout, context).not.toMatch(/ERROR/);

    // Every metric the bench says it ran (so a new metric is covered too) has a result line.
    const ran = /^metrics: ([^;]+);/m.exec(stdout)?.[1]?.split(", ") ?? [];
    expect(ran.length, context).toBeGreaterThanOrEqual(Object.keys(EXPECTED).length);
    for (const metric of ran) expect(stdout, `no line for ${metric}`).toContain(`[${metric} `);

    const lines = stdout.split("\n").filter((l) => /^\s+\[\w+ \w+\]/.test(l));
    for (const [metric, sides] of Object.entries(EXPECTED)) {
      for (const side of sides) {
        const mine = lines.filter((l) => l.includes(`[${metric} ${side}]`));
        expect(mine.length, `${metric} ${side}\n${context}`).toBeGreaterThan(0);
      }
    }
    for (const line of lines) {
      // A number the bench could not compute is printed as "—".
      expect(line, line).not.toMatch(/—|NaN|Infinity/);
      expect(line, line).toMatch(/\d/);
      const errors = /(\d+) errors/.exec(line);
      if (errors) expect(Number(errors[1]), line).toBe(0);
    }
    // Three webhook variants, each with its line.
    for (const variant of ["none", "down", "up"]) expect(stdout).toContain(`endpoint ${variant}:`);

    // The JSON line: no side reported an error, and the server CPU per send is there for each.
    const json = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
      errors: Record<string, string[]>;
      http: Record<string, { cpuUsPerSend?: number }>;
      socket: Record<string, { cpuUsPerSend?: number }>;
      bigroom: Record<string, { deliveriesPerSec?: number; p99?: number }>;
      manyrooms: { ratio?: number; relay?: { sendsPerSec?: number; p99?: number; bytesPerRoom?: number } };
      webhooks: {
        wholeRun?: {
          answering?: { sendsPerSec?: number; cpuUsPerSend?: number };
          none?: { cpuUsPerSend?: number };
        };
      };
    };
    for (const [side, errs] of Object.entries(json.errors)) expect(errs, side).toEqual([]);
    for (const side of ["floor", "relay", "naive"]) {
      expect(Number.isFinite(json.http[side]?.cpuUsPerSend), `http ${side}`).toBe(true);
    }
    for (const side of ["floor", "relay", "socketio"]) {
      expect(Number.isFinite(json.socket[side]?.cpuUsPerSend), `socket ${side}`).toBe(true);
    }
    // The two at scale: the big room's deliveries/s and full-delivery p99 on both sides; many
    // rooms' sends/s, p99, RSS per room and ratio to the same load in 8 rooms.
    for (const side of ["floor", "relay"]) {
      expect(Number.isFinite(json.bigroom[side]?.deliveriesPerSec), `bigroom ${side}`).toBe(true);
      expect(Number.isFinite(json.bigroom[side]?.p99), `bigroom ${side} p99`).toBe(true);
    }
    // Metric 5's whole runs: the endpoint got every message, so both numbers are there.
    const whole = json.webhooks.wholeRun;
    for (const n of [
      whole?.answering?.sendsPerSec,
      whole?.answering?.cpuUsPerSend,
      whole?.none?.cpuUsPerSend,
    ]) {
      expect(Number.isFinite(n), JSON.stringify(json.webhooks)).toBe(true);
    }
    const many = json.manyrooms;
    for (const n of [many.ratio, many.relay?.sendsPerSec, many.relay?.p99, many.relay?.bytesPerRoom]) {
      expect(Number.isFinite(n), JSON.stringify(many)).toBe(true);
    }
  },
  LIMIT_MS + 10_000,
);
