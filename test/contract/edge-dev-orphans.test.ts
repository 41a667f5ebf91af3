/**
 * Orphans: the edge dev launcher (`bin/edge-dev.ts`, `npm run dev:workers` / `dev:edge`) starts
 * sqld and wrangler or partykit, which start workerd and esbuild. When the launcher dies, however
 * it dies, all of them must die too: a SIGKILL (a closed terminal, an OOM kill) runs no handler
 * in the launcher, and the survivors would keep the port and the data folder.
 *
 * Each case starts the launcher as a real child process, waits until it serves, records every
 * descendant from /proc (pid, start time, name), does one thing to it, and then polls, bounded in
 * count and time, until every recorded process is gone (or a zombie, or its pid reused) and a new
 * listener can take the port. Linux only: it reads /proc.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type ExitInfo, type ServerHandle, startServer } from "../helpers/server.ts";

const GONE_WITHIN_MS = 15_000;
const POLL_MS = 100;

interface Proc {
  pid: number;
  ppid: number;
  /** The kernel's name for it (at most 15 characters): "sqld", "workerd", "esbuild", "node". */
  name: string;
  state: string;
  /** Start time in clock ticks since boot: tells a reused pid from the one we recorded. */
  start: string;
  cmdline: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (name) state ppid ..."; the name may hold spaces and parentheses, so split at the last ")".
    const close = stat.lastIndexOf(")");
    const name = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      // exited meanwhile
    }
    return { pid, ppid: Number(fields[1]), name, state: fields[0] ?? "", start: fields[19] ?? "", cmdline };
  } catch {
    return undefined;
  }
}

/** Every process below `root`, found by following parent pids through one snapshot of /proc. */
function descendants(root: number): Proc[] {
  const byParent = new Map<number, Proc[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const proc = readProc(Number(entry));
    if (!proc) continue;
    byParent.set(proc.ppid, [...(byParent.get(proc.ppid) ?? []), proc]);
  }
  const found: Proc[] = [];
  let level = [root];
  for (let depth = 0; depth < 32 && level.length > 0; depth++) {
    const next: Proc[] = level.flatMap((pid) => byParent.get(pid) ?? []);
    found.push(...next);
    level = next.map((p) => p.pid);
  }
  return found;
}

/** Still running: the same process (same start time) and not a zombie waiting to be reaped. */
function alive(recorded: Proc): boolean {
  const now = readProc(recorded.pid);
  return now !== undefined && now.start === recorded.start && now.state !== "Z" && now.state !== "X";
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** Polls until every recorded process is gone and the port is free, or the time is up. */
async function waitAllGone(procs: Proc[], port: number): Promise<{ left: Proc[]; portFree: boolean }> {
  const deadline = Date.now() + GONE_WITHIN_MS;
  let left = procs.filter(alive);
  let free = false;
  for (let i = 0; i < GONE_WITHIN_MS / POLL_MS + 1; i++) {
    left = procs.filter(alive);
    free = left.length === 0 && (await portFree(port));
    if (free || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return { left, portFree: free };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const describeLinux = existsSync("/proc/self/stat") ? describe : describe.skip;

describeLinux("dev launchers: no orphans", () => {
  let handle: ServerHandle | undefined;
  let recorded: Proc[] = [];

  // Whatever a failed case left behind (the old launcher left everything) must not outlive it.
  afterEach(async () => {
    for (const proc of recorded.filter(alive)) {
      try {
        process.kill(proc.pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    recorded = [];
    await handle?.dispose();
    handle = undefined;
  });

  async function start(runtime: "workers" | "partykit" | "deno-launcher") {
    handle = await startServer({ runtime });
    const launcher = handle.proc.pid;
    if (launcher === undefined) throw new Error("launcher has no pid");
    recorded = descendants(launcher);
    const names = recorded.map((p) => p.name);
    // The walk must have seen what matters, or "all gone" would prove nothing.
    if (runtime === "deno-launcher") expect(names).toContain("deno");
    else {
      expect(names).toContain("sqld");
      expect(names).toContain("workerd");
    }
    return { server: handle, procs: recorded };
  }

  async function expectAllGone(procs: Proc[], port: number) {
    const { left, portFree } = await waitAllGone(procs, port);
    expect(left.map((p) => `${p.pid} ${p.name}`)).toEqual([]);
    expect(portFree).toBe(true);
  }

  for (const runtime of ["workers", "partykit"] as const) {
    it(`${runtime}: SIGKILL of the launcher takes sqld, the dev server and workerd with it`, async () => {
      const { server, procs } = await start(runtime);
      const exit = await server.kill();
      expect(exit.signal).toBe("SIGKILL");
      await expectAllGone(procs, server.port);
    }, 60_000);
  }

  it("npm run start:deno: SIGKILL of the launcher takes Deno with it", async () => {
    const { server, procs } = await start("deno-launcher");
    const exit = await server.kill();
    expect(exit.signal).toBe("SIGKILL");
    await expectAllGone(procs, server.port);
  }, 60_000);

  it("workers: SIGTERM still stops everything, quickly", async () => {
    const { server, procs } = await start("workers");
    const startedAt = Date.now();
    await server.stop();
    await expectAllGone(procs, server.port);
    // About half a second here; the launcher escalates to SIGKILL after 3 s, and a loaded machine
    // gets some slack on top. This catches a stop that hangs, not a slow one.
    expect(Date.now() - startedAt).toBeLessThan(8_000);
  }, 60_000);

  it("partykit: a dev server that dies on its own takes the launcher and the rest with it", async () => {
    const { server, procs } = await start("partykit");
    // The `partykit dev` process itself (its node), not the supervisor that started it.
    const devServer = procs.find(
      (p) => p.cmdline.includes(".bin/partykit dev") && !p.cmdline.includes("lifeline"),
    );
    if (!devServer) throw new Error(`no partykit dev among ${procs.map((p) => p.cmdline).join("; ")}`);
    process.kill(devServer.pid, "SIGKILL");
    const exit: ExitInfo = await withTimeout(server.exited, GONE_WITHIN_MS, "the launcher did not exit");
    expect(exit.code).not.toBe(0);
    await expectAllGone(procs, server.port);
  }, 60_000);
});
