/**
 * The heartbeat-stall bench cannot rot: `bench/heartbeat-stall.ts --quick` (a real relay, 300 idle
 * sockets, /healthz probed before and after they open) must exit 0 with finite numbers on both
 * probes and no socket cut by the heartbeat.
 */
import { expect, it } from "vitest";
import { runBenchScript } from "../helpers/run-bench.ts";

/** ~10 s on a quiet machine. */
const LIMIT_MS = 120_000;

it(
  "bench:stall --quick: both probes answer, with numbers, and no answering socket is cut",
  async () => {
    const { code, stdout, stderr } = await runBenchScript(
      "bench/heartbeat-stall.ts",
      ["--quick", "--json"],
      LIMIT_MS,
    );
    const context = `${stdout.slice(-3000)}\n${stderr.slice(-2000)}`;
    expect(code, context).toBe(0);
    const json = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
      ok: boolean;
      sockets: number;
      closedByRelay: number;
      baseline: Record<string, number>;
      loaded: Record<string, number>;
    };
    expect(json.ok, context).toBe(true);
    expect(json.sockets).toBe(300);
    expect(json.closedByRelay).toBe(0);
    for (const probe of [json.baseline, json.loaded]) {
      expect(probe.count, context).toBeGreaterThan(10);
      for (const key of ["p50", "p99", "p999", "max", "over50"])
        expect(Number.isFinite(probe[key]), `${key}\n${context}`).toBe(true);
    }
  },
  LIMIT_MS + 10_000,
);
