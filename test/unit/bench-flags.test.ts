/**
 * Every bench script refuses a bad flag with exit 2 and one line naming the script and the flag,
 * not a stack trace (bench/harness/flags.ts).
 */
import { describe, expect, it } from "vitest";
import { runBenchScript } from "../helpers/run-bench.ts";

const SCRIPTS = [
  ["bench/run.ts", "bench"],
  ["bench/commit-cost.ts", "bench:commit"],
  ["bench/lane-reads.ts", "bench:lanes"],
  ["bench/reconnect-storm.ts", "bench:storm"],
  ["bench/edge-rooms.ts", "bench:edge"],
  ["bench/heartbeat-stall.ts", "bench:stall"],
  ["bench/socket-write-cost.ts", "bench:writes"],
] as const;

describe("bench flags", () => {
  it.each(SCRIPTS)("%s: an unknown flag is one line and exit 2", async (script, name) => {
    const { code, stdout, stderr } = await runBenchScript(script, ["--bogus"], 60_000);
    expect(code, stderr).toBe(2);
    expect(stderr.trim()).toBe(`${name}: Unknown option '--bogus'`);
    expect(stdout).toBe("");
  });

  it("a number out of range names the flag and its range", async () => {
    const { code, stderr } = await runBenchScript("bench/reconnect-storm.ts", ["--members", "0"], 60_000);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe("bench:storm: --members wants an integer from 1 to 1000");
  });

  it.each([
    ["--rooms", "7", "bench: --rooms wants an integer from 8 to 20000"],
    ["--per-room", "0", "bench: --per-room wants an integer from 1 to 10"],
    ["--rooms", "2e3x", "bench: --rooms wants an integer from 8 to 20000"],
  ])(
    "npm run bench %s %s: the many rooms' size is checked before anything runs",
    async (flag, value, line) => {
      const { code, stdout, stderr } = await runBenchScript("bench/run.ts", [flag, value], 60_000);
      expect(code).toBe(2);
      expect(stderr.trim()).toBe(line);
      expect(stdout).toBe("");
    },
  );
});
