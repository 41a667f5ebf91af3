/**
 * A relay whose stdout reader went away still stops on SIGTERM. Found with two test relays
 * orphaned by a killed runner: after SIGTERM they wrote their "stopped" line every 100 ms, for
 * hours, getting EPIPE each time (pino's exit flush retries any failed write), and never exited.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { repoRoot } from "../helpers/server.ts";

it("stops on SIGTERM although nobody reads its stdout any more", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "parley-stdout-gone-"));
  const child = spawn(process.execPath, ["--import", "tsx", "bin/parley.ts"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      PORT: "0",
      PARLEY_DB_URL: `file:${path.join(dir, "parley.db")}`,
      PARLEY_DATA_DIR: dir,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<string>((resolve) =>
    child.on("exit", (code, signal) => resolve(`${code} ${signal}`)),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the relay did not start within 30 s")), 30_000);
      child.stdout?.on("data", (chunk: Buffer) => {
        if (!chunk.toString().includes("Parley listening on")) return;
        clearTimeout(timer);
        resolve();
      });
    });
    // The reader goes away: the relay's next writes to stdout get EPIPE.
    child.stdout?.destroy();
    child.kill("SIGTERM");
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r("still running"), 15_000)),
    ]);
    // It finished its shutdown and exited 0. (The old code answered "still running"; and until
    // the SIGTERM handler was installed before the listening line, a signal sent as soon as
    // that line was read ended the process by the signal's default action in ~1 run of 4.)
    expect(code).toBe("0 null");
  } finally {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
