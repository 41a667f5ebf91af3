/** The SDK under Deno (the `deno` binary from npm), from its TypeScript sources, against the relay. */
import { spawn } from "node:child_process";
import { expect, it } from "vitest";
import { repoRoot } from "../helpers/server.ts";
import { useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_TYPING_THROTTLE_MS: "50" } });

function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(cmd, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

it("runs in Deno: WebSocket and SSE, send, receive, typing, read", async () => {
  const conv = await w.conversation(["alice", "bob"]);
  const res = await run(
    "npx",
    [
      "deno",
      "run",
      "--node-modules-dir=manual",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      "test/sdk/deno/client-script.ts",
    ],
    {
      PARLEY_URL: w.server.url,
      PARLEY_CONV: conv,
      TOKEN_ALICE: await w.token("alice"),
      TOKEN_BOB: await w.token("bob"),
      NO_COLOR: "1",
    },
    25_000,
  );
  expect(res.code, `deno failed:\n${res.stderr}\n${res.stdout}`).toBe(0);
  const line = res.stdout.trim().split("\n").at(-1) ?? "";
  const result = JSON.parse(line);
  expect(result).toMatchObject({
    transports: ["websocket", "sse"],
    sentSeqs: [1, 2, 3, 4],
    alice: [1, 2, 3, 4],
    bob: [1, 2, 3, 4],
    bobSawTyping: true,
    aliceSawRead: 4,
    states: ["live", "live"],
  });
  expect(result.runtime).toMatch(/^deno 2\./);
}, 30_000);
