/**
 * Many rooms: `rooms` conversations of `perRoom` members, one socket per member, all connected;
 * then durable HTTP sends spread over every room by `senders` closed-loop senders. Member 0 of
 * room c is sender `c mod senders` (so each sender is a member of rooms/senders rooms, and posts to
 * them round-robin as itself); the others are members of that room only. The server's VmRSS (after
 * a forced GC, median of a few reads, as memory.ts) is read before the rooms are created and after
 * they are all loaded with their sockets connected and quiet: the increase divided by `rooms` is the
 * memory one room costs, its sockets included. A few warm-up rooms are created and connected first
 * (not counted, not sent to), so first-use costs (JIT, prepared statements) are not counted.
 */
import http from "node:http";
import { newClientMessageId } from "../../client/ids.ts";
import { closedLoops, type LoopRequest } from "./http-load.ts";
import { openClients, waitQuiet } from "./sockets.ts";
import { settledRss } from "./spawn.ts";
import { type LatencySummary, summarize } from "./stats.ts";
import type { commitsBetween, Target } from "./target.ts";

export interface ManyRoomsOptions {
  rooms: number;
  perRoom: number;
  senders: number;
  warmupRooms: number;
  warmupMs: number;
  durationMs: number;
  bodyBytes: number;
  /** Handshakes at a time (default 100) and the time all the sockets may take to open (default 120 s). */
  openConcurrency?: number;
  openTimeoutMs?: number;
  /** Pause before each RSS read (default 1000 ms), and VmRSS reads per measurement (default 5). */
  pauseMs?: number;
  rssSamples?: number;
}

export interface ManyRoomsResult {
  sendsPerSec: number;
  latency: LatencySummary;
  errors: number;
  cpu: { server: number; client: number };
  bytesPerRoom: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** ms to create the rooms and to open their sockets. */
  createMs: number;
  connectMs: number;
  notes: string[];
  /** The relay's group commits in the measured window (read from its /metrics). */
  commits?: ReturnType<typeof commitsBetween>;
}

/** Run `fn` over `items`, `concurrency` at a time; the first failure stops the rest and is thrown. */
async function pool<T>(items: readonly T[], concurrency: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const x = items[next++] as T;
      try {
        await fn(x);
      } catch (err) {
        failure ??= err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure) throw failure;
}

export async function runManyRooms(target: Target, opts: ManyRoomsOptions): Promise<ManyRoomsResult> {
  if (opts.perRoom < 1 || opts.rooms < opts.senders) {
    throw new Error(`many rooms: want perRoom ≥ 1 and rooms (${opts.rooms}) ≥ senders (${opts.senders})`);
  }
  const stamp = Date.now().toString(36);
  const membersOf = (tag: string, c: number) => [
    `mr-s${c % opts.senders}`,
    ...Array.from({ length: opts.perRoom - 1 }, (_, j) => `mr-${tag}${c}-${j + 1}`),
  ];
  const urlsOf = async (conv: string, members: string[]) =>
    Promise.all(members.map(async (m) => target.wsUrl(conv, await target.token(m))));
  const openConcurrency = opts.openConcurrency ?? 100;
  const openTimeoutMs = opts.openTimeoutMs ?? 120_000;

  // Warm-up rooms: created, connected, left open (they are in both RSS reads), never sent to.
  const warmConvs = Array.from({ length: opts.warmupRooms }, (_, c) => `mrw-${stamp}-${c}`);
  const warmUrls: string[] = [];
  for (const [c, conv] of warmConvs.entries()) {
    const members = membersOf("w", c);
    await target.createConversation(conv, members);
    warmUrls.push(...(await urlsOf(conv, members)));
  }
  const warm = await openClients(warmUrls, openConcurrency, 30_000, target.dialect);
  const notes: string[] = [];
  let closed = 0;
  const onClose = (i: number, code: number) => {
    closed++;
    if (notes.length < 3) notes.push(`socket ${i} closed ${code}`);
  };
  warm.onClose = onClose;
  try {
    await waitQuiet(warm, 300, 3_000);
    const pauseMs = opts.pauseMs ?? 1_000;
    await new Promise((r) => setTimeout(r, pauseMs));
    const pid = target.server.pid;
    const before = await settledRss(pid, opts.rssSamples);

    const convs = Array.from({ length: opts.rooms }, (_, c) => `mr-${stamp}-${c}`);
    const t0 = performance.now();
    await pool(
      Array.from(convs, (_, c) => c),
      8,
      (c) => target.createConversation(convs[c] as string, membersOf("u", c)),
    );
    const createMs = performance.now() - t0;
    const urls: string[] = [];
    for (const [c, conv] of convs.entries()) urls.push(...(await urlsOf(conv, membersOf("u", c))));
    const t1 = performance.now();
    const clients = await openClients(urls, openConcurrency, openTimeoutMs, target.dialect);
    const connectMs = performance.now() - t1;
    clients.onClose = onClose;
    try {
      await waitQuiet(clients, 500, 10_000);
      await new Promise((r) => setTimeout(r, pauseMs));
      const after = await settledRss(pid, opts.rssSamples);

      // The sends: sender i posts, as itself, to its rooms (c ≡ i mod senders) in turn.
      const agent = new http.Agent({ keepAlive: true, maxSockets: opts.senders });
      const pad = "x".repeat(Math.max(0, opts.bodyBytes - 20));
      const loops = Array.from({ length: opts.senders }, (_, i) => async () => {
        const token = await target.token(`mr-s${i}`);
        const mine = convs
          .filter((_, c) => c % opts.senders === i)
          .map(
            (conv) =>
              new URL(`${target.server.baseUrl}/v1/conversations/${encodeURIComponent(conv)}/messages`),
          );
        return (n: number): LoopRequest => ({
          method: "POST",
          url: mine[n % mine.length] as URL,
          token,
          payload: JSON.stringify({ clientMessageId: newClientMessageId(), body: `${i} ${n} ${pad}` }),
        });
      });
      const out = await closedLoops(target, agent, loops, 201, opts);
      notes.push(...out.notes);
      if (closed > 0) notes.push(`${closed} sockets closed during the metric`);
      return {
        sendsPerSec: out.completed / (opts.durationMs / 1000),
        latency: summarize(out.latencies),
        errors: out.errors,
        cpu: out.cpu,
        bytesPerRoom: (after - before) / opts.rooms,
        rssBeforeBytes: before,
        rssAfterBytes: after,
        createMs,
        connectMs,
        notes,
        ...(out.commits ? { commits: out.commits } : {}),
      };
    } finally {
      await clients.closeAll();
    }
  } finally {
    await warm.closeAll();
  }
}
