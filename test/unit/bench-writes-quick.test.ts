/**
 * The socket-write bench cannot rot: `bench/socket-write-cost.ts --quick` (100 real loopback
 * sockets, their reader a child process) must exit 0 with a finite, positive cost for both shapes.
 * Which shape is cheaper is the bench's to say, not a test's (timings under load).
 */
import { expect, it } from "vitest";
import { runBenchScript } from "../helpers/run-bench.ts";

/** ~3 s on a quiet machine. */
const LIMIT_MS = 60_000;

it(
  "bench:writes --quick: both shapes are measured, with finite numbers",
  async () => {
    const { code, stdout, stderr } = await runBenchScript(
      "bench/socket-write-cost.ts",
      ["--quick", "--json"],
      LIMIT_MS,
    );
    const context = `${stdout.slice(-3000)}\n${stderr.slice(-2000)}`;
    expect(code, context).toBe(0);
    type Row = { userUsPerWrite: number; systemUsPerWrite: number; cpuUsPerFrame: number };
    const json = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
      sockets: number;
      framesPerWrite: number;
      spread: Row;
      held: Row;
    };
    expect(json.sockets, context).toBe(100);
    for (const row of [json.spread, json.held]) {
      for (const n of [row.userUsPerWrite, row.systemUsPerWrite, row.cpuUsPerFrame]) {
        expect(Number.isFinite(n), context).toBe(true);
      }
      expect(row.cpuUsPerFrame, context).toBeGreaterThan(0);
    }
    expect(stdout).toContain("spread (1 frame a write)");
    expect(stdout).toContain(`held (${json.framesPerWrite} frames a write)`);
  },
  LIMIT_MS + 10_000,
);
