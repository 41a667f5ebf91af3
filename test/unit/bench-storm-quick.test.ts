/**
 * The reconnect-storm bench cannot rot: `bench/reconnect-storm.ts --quick` (1,000 sockets over 100
 * conversations, a real relay SIGKILLed and restarted on its libSQL file, then the floor, fresh and
 * under the same kill and restart) must exit 0 with finite numbers and no gap, duplicate, missing
 * message or client left behind. Two rounds, so the second (the floor first) and the medians run too.
 */
import { expect, it } from "vitest";
import { runBenchScript } from "../helpers/run-bench.ts";

/** ~25 s on a quiet machine; four relay starts under tsx on a loaded 2-core one take much longer. */
const LIMIT_MS = 240_000;

const runQuick = () =>
  runBenchScript("bench/reconnect-storm.ts", ["--quick", "--rounds", "2", "--json"], LIMIT_MS);

it(
  "bench:storm --quick: every client resumes after the SIGKILL with no gap, duplicate or loss",
  async () => {
    const { code, stdout, stderr } = await runQuick();
    const context = `${stdout.slice(-4000)}\n${stderr.slice(-2000)}`;
    expect(code, context).toBe(0);
    expect(stdout, context).not.toMatch(/ERROR/);

    const json = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown> & {
      back: Record<string, number>;
      relay: Record<string, number>;
      floorCpu: Record<string, number>;
      floorRestart: Record<string, number>;
      perRound: Array<{
        round: number;
        floorFirst: boolean;
        stormMs: number;
        floorMs: number;
        attempts: number;
      }>;
    };
    expect(json.ok, context).toBe(true);
    expect(json.clients).toBe(1000);
    for (const key of ["gaps", "duplicates", "missing", "notBack", "gaveUp", "floorNotBack"])
      expect(json[key], `${key}\n${context}`).toBe(0);
    for (const key of ["stormMs", "floorMs", "ratio", "ratioRestart", "attempts", "restartMs"])
      expect(Number.isFinite(json[key]), `${key}\n${context}`).toBe(true);
    for (const key of ["p50", "p99", "max"])
      expect(Number.isFinite(json.back[key]), `back.${key}`).toBe(true);
    expect(json.back.count).toBe(1000);
    for (const key of ["rssMiB", "cpuPct", "cpuSeconds", "benchCpuPct"])
      expect(Number.isFinite(json.relay[key]), `relay.${key}`).toBe(true);
    for (const key of ["cpuPct", "cpuSeconds", "benchCpuPct"])
      expect(Number.isFinite(json.floorCpu[key]), `floorCpu.${key}`).toBe(true);
    expect(json.floorRestart.notBack, context).toBe(0);
    for (const key of ["ms", "attempts", "restartMs", "cpuSeconds", "cpuPct", "benchCpuPct"])
      expect(Number.isFinite(json.floorRestart[key]), `floorRestart.${key}`).toBe(true);
    expect(json.floorRestart.attempts as number).toBeGreaterThanOrEqual(1000);
    // Every client reconnected at least once after the kill.
    expect(json.attempts as number).toBeGreaterThanOrEqual(1000);

    // Two rounds, the relay first and then the floor first; the report is their medians.
    expect(json.rounds).toBe(2);
    expect(json.perRound.map((r) => [r.round, r.floorFirst])).toEqual([
      [1, false],
      [2, true],
    ]);
    for (const round of json.perRound) {
      expect(Number.isFinite(round.stormMs), `round ${round.round} stormMs`).toBe(true);
      expect(round.attempts, `round ${round.round} attempts`).toBeGreaterThanOrEqual(1000);
    }
    const [first, second] = json.perRound as [(typeof json.perRound)[0], (typeof json.perRound)[0]];
    expect(json.stormMs).toBeCloseTo((first.stormMs + second.stormMs) / 2, 6);
    expect(json.floorMs).toBeCloseTo((first.floorMs + second.floorMs) / 2, 6);
    expect(json.ratio).toBeCloseTo((json.stormMs as number) / (json.floorMs as number), 6);
  },
  LIMIT_MS + 10_000,
);
