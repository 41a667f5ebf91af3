/** Start a server as a child process (through tsx), find its Node process, read its memory, stop it. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./stats.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;
const GC_PRELOAD = fileURLToPath(new URL("./gc-preload.mjs", import.meta.url));

export interface Server {
  name: string;
  port: number;
  baseUrl: string;
  /** The Node process that runs the server (tsx's child), whose memory is measured. */
  pid: number;
  /** When its `listening on` line was seen (performance.now()), before the health check. */
  listeningAt: number;
  /** stdout+stderr tail, for error reports. */
  tail(): string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Run `tsx <script>` in ROOT with env; resolve when it prints `listening on http://host:port`. */
export async function startServer(
  name: string,
  script: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<Server> {
  const nodeOptions = [
    env.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? "",
    "--expose-gc",
    `--import=${GC_PRELOAD}`,
  ]
    .join(" ")
    .trim();
  const child = spawn(TSX, [script], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_OPTIONS: nodeOptions },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const tail = () => output.slice(-4000);
  let exited: string | null = null;
  child.on("exit", (code, signal) => {
    exited = `exited with ${signal ?? code}`;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name}: no "listening on" line within ${timeoutMs} ms\n${tail()}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.length > 64_000) output = output.slice(-16_000);
      const m = /listening on https?:\/\/[^\s:/]+:(\d+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", () => {
      clearTimeout(timer);
      reject(new Error(`${name}: ${exited} before listening\n${tail()}`));
    });
  });
  const listeningAt = performance.now();
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitHealthy(baseUrl, 15_000, () => exited);
  const pid = findNodeChild(child.pid ?? -1, script) ?? child.pid ?? -1;
  return {
    name,
    port,
    baseUrl,
    pid,
    listeningAt,
    tail,
    stop: () => stopChild(child, pid),
  };
}

async function waitHealthy(baseUrl: string, timeoutMs: number, exited: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`server ${exited()}`);
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(100);
  }
  throw new Error(`${baseUrl}/healthz not OK within ${timeoutMs} ms (${last})`);
}

async function stopChild(child: ChildProcess, serverPid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const ok = await Promise.race([gone.then(() => true), sleep(5000).then(() => false)]);
  if (!ok) {
    try {
      process.kill(serverPid, "SIGKILL");
    } catch {}
    child.kill("SIGKILL");
    await Promise.race([gone, sleep(2000)]);
  }
}

/** The direct child of `parentPid` whose command line mentions `script` (tsx runs the script in a child). */
export function findNodeChild(parentPid: number, script: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may contain spaces, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== parentPid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(script)) return Number(entry);
    } catch {
      // the process went away
    }
  }
  return undefined;
}

/** VmRSS of a process, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Ask the server for a full GC (see gc-preload.mjs), let it settle, then the median of a few VmRSS reads. */
/**
 * The live JavaScript memory (V8 heap in use + external) a server reports right after the full GC
 * that `kill -USR2` asks of it (gc-preload.mjs), median of `samples` reads 250 ms apart; NaN when it
 * does not answer (a server started without the preload).
 */
export async function settledHeap(pid: number, samples = 3): Promise<number> {
  const file = join(tmpdir(), `parley-bench-heap-${pid}.json`);
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    rmSync(file, { force: true });
    if (existsSync(`/proc/${pid}`)) process.kill(pid, "SIGUSR2");
    for (let wait = 0; wait < 40 && !existsSync(file); wait++) await sleep(50);
    try {
      const { heapUsed, external } = JSON.parse(readFileSync(file, "utf8")) as {
        heapUsed: number;
        external: number;
      };
      values.push(heapUsed + external);
    } catch {
      // no answer this time
    }
    // Apart, so each read follows a GC of its own; none after the last.
    if (i < samples - 1) await sleep(250);
  }
  rmSync(file, { force: true });
  return values.length > 0 ? median(values) : Number.NaN;
}

export async function settledRss(pid: number, samples = 5): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (existsSync(`/proc/${pid}`)) process.kill(pid, "SIGUSR2");
    await sleep(250);
    values.push(rssBytes(pid));
  }
  return median(values);
}

/** CPU seconds (user + system, all threads) a process has used so far; /proc counts in 1/100 s ticks. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After "pid (comm) ", field index 11 is utime and 12 is stime (fields 14 and 15 of proc(5)).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU use of the server and of this (load generator) process over a stretch of time, in % of one core. */
export function cpuMeter(serverPid: number): () => { server: number; client: number } {
  const s0 = cpuSeconds(serverPid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    return {
      server: ((cpuSeconds(serverPid) - s0) / wall) * 100,
      client: ((c.user + c.system) / 1e6 / wall) * 100,
    };
  };
}
