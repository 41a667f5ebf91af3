/** Runs a bench script (`node --import tsx <script> --quick --json`) to its end, bounded in time. */
import { spawn } from "node:child_process";
import { repoRoot } from "./server.ts";

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `script` with `args` from the repository root; SIGKILLs it and rejects after `limitMs`. */
export function runBenchScript(script: string, args: readonly string[], limitMs: number): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`${script} ${args.join(" ")} did not finish within ${limitMs} ms\n${stdout.slice(-3000)}`),
      );
    }, limitMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
