/**
 * `npm run bench:lanes` cannot rot: a small run on a real libSQL file exits 0 and reports a finite
 * CPU time per lane run for both read paths (the script itself fails when a path reads the
 * wrong number of entries or recipients).
 */
import { expect, it } from "vitest";
import { runBenchScript } from "../helpers/run-bench.ts";

it("bench:lanes --runs 20 --rounds 1 reads through both paths and reports both", async () => {
  const { code, stdout, stderr } = await runBenchScript(
    "bench/lane-reads.ts",
    ["--runs", "20", "--rounds", "1"],
    90_000,
  );
  expect(code, `${stdout}\n${stderr}`).toBe(0);
  const median = /median: @libsql\/client ([\d.]+) µs, native ([\d.]+) µs per lane run/.exec(stdout);
  expect(median, stdout).not.toBeNull();
  for (const value of [median?.[1], median?.[2]]) expect(Number(value)).toBeGreaterThan(0);
}, 100_000);
