/**
 * Many rooms: `rooms` conversations of `perRoom` sockets each, all connected; then durable HTTP
 * sends spread over every room by `senders` closed-loop senders (see `roomPlan`: each send is
 * delivered to `perRoom` sockets whatever the number of rooms, so runs of different sizes differ
 * only in their rooms). The server's VmRSS (after a forced GC, median of a few reads, as memory.ts)
 * is read before the rooms are created and after they are all loaded with their sockets connected
 * and quiet: the increase divided by `rooms` is the memory one room costs, its sockets included. A
 * few warm-up rooms are created and connected first (not counted, not sent to), so first-use costs
 * (JIT, prepared statements) are not counted.
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

/** Who sends to which room: a pure function of the counts, so the mapping can be tested alone. */
export interface RoomPlan {
  /** The senders that are members of room c (at least one; the first holds one of its sockets). */
  sendersOf(c: number): number[];
  /** The rooms sender i posts to, in turn. */
  roomsOf(i: number): number[];
}

/**
 * With at least as many rooms as senders, room c's one sender is `c mod senders` (each sender posts
 * to rooms/senders rooms); with fewer, sender i posts to room `i mod rooms` only, so each room has
 * senders/rooms of them. Either way every sender has a room and every room a sender.
 */
export function roomPlan(rooms: number, senders: number): RoomPlan {
  const range = (n: number) => Array.from({ length: n }, (_, k) => k);
  if (rooms >= senders) {
    return {
      sendersOf: (c) => [c % senders],
      roomsOf: (i) => range(rooms).filter((c) => c % senders === i),
    };
  }
  return {
    sendersOf: (c) => range(senders).filter((i) => i % rooms === c),
    roomsOf: (i) => [i % rooms],
  };
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
  if (opts.perRoom < 1 || opts.rooms < 1 || opts.senders < 1) {
    throw new Error(
      `many rooms: want perRoom, rooms and senders ≥ 1 (got ${opts.perRoom}, ${opts.rooms}, ${opts.senders})`,
    );
  }
  const stamp = Date.now().toString(36);
  const plan = roomPlan(opts.rooms, opts.senders);
  const warmPlan = roomPlan(opts.warmupRooms, Math.min(opts.senders, Math.max(1, opts.warmupRooms)));
  const listenersOf = (tag: string, c: number) =>
    Array.from({ length: opts.perRoom - 1 }, (_, j) => `mr-${tag}${c}-${j + 1}`);
  const membersOf = (p: RoomPlan, tag: string, c: number) => [
    ...p.sendersOf(c).map((i) => `mr-s${i}`),
    ...listenersOf(tag, c),
  ];
  /** The room's sockets: its first sender's and its listeners' (`perRoom` in all). */
  const urlsOf = async (p: RoomPlan, tag: string, conv: string, c: number) =>
    Promise.all(
      [`mr-s${p.sendersOf(c)[0]}`, ...listenersOf(tag, c)].map(async (m) =>
        target.wsUrl(conv, await target.token(m)),
      ),
    );
  const openConcurrency = opts.openConcurrency ?? 100;
  const openTimeoutMs = opts.openTimeoutMs ?? 120_000;

  // Warm-up rooms: created, connected, left open (they are in both RSS reads), never sent to.
  const warmConvs = Array.from({ length: opts.warmupRooms }, (_, c) => `mrw-${stamp}-${c}`);
  const warmUrls: string[] = [];
  for (const [c, conv] of warmConvs.entries()) {
    await target.createConversation(conv, membersOf(warmPlan, "w", c));
    warmUrls.push(...(await urlsOf(warmPlan, "w", conv, c)));
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
      (c) => target.createConversation(convs[c] as string, membersOf(plan, "u", c)),
    );
    const createMs = performance.now() - t0;
    const urls: string[] = [];
    for (const [c, conv] of convs.entries()) urls.push(...(await urlsOf(plan, "u", conv, c)));
    const t1 = performance.now();
    const clients = await openClients(urls, openConcurrency, openTimeoutMs, target.dialect);
    const connectMs = performance.now() - t1;
    clients.onClose = onClose;
    try {
      await waitQuiet(clients, 500, 10_000);
      await new Promise((r) => setTimeout(r, pauseMs));
      const after = await settledRss(pid, opts.rssSamples);

      // The sends: sender i posts, as itself, to its rooms in turn.
      const agent = new http.Agent({ keepAlive: true, maxSockets: opts.senders });
      const pad = "x".repeat(Math.max(0, opts.bodyBytes - 20));
      const loops = Array.from({ length: opts.senders }, (_, i) => async () => {
        const token = await target.token(`mr-s${i}`);
        const mine = plan
          .roomsOf(i)
          .map((c) => convs[c] as string)
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
