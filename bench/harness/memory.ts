/**
 * Memory per idle socket: `sockets` sockets spread over `conversations` conversations. The server's
 * live JavaScript memory and its VmRSS are read (after a forced GC, median of a few reads) before
 * and after they connect and go quiet; each increase divided by the socket count is a result.
 *
 * A warm-up batch of sockets is opened first and kept open, so code that runs on the first
 * connections (JIT, lazily loaded modules) is not counted: the result is what each socket more
 * costs a server that already holds some. It must be large: V8 optimizes a function only after
 * many calls, and with 20 warm-up sockets the relay compiled ~0.9 MB of optimized code while the
 * 2,000 measured ones connected (heap snapshots: ~450 of its ~4,400 bytes per socket), ~0.2 MB
 * after a warm-up of 2,000. The warm-up users are members of their own, not the measured ones, so
 * what a server keeps per user (a verified token, a profile) is counted for every measured socket.
 */
import { openClients, waitQuiet } from "./sockets.ts";
import { settledHeap, settledRss } from "./spawn.ts";
import type { Target } from "./target.ts";

export interface MemoryOptions {
  sockets: number;
  conversations: number;
  warmupSockets: number;
  /** Pause after the warm-up and before the last read (default 1000 ms). */
  pauseMs?: number;
  /** VmRSS reads per measurement, 250 ms apart (default 5). */
  rssSamples?: number;
}

export interface MemoryResult {
  /** The increase of VmRSS per socket. */
  bytesPerSocket: number;
  /**
   * The increase of live JavaScript memory (V8 heap in use + external, after a full GC) per socket:
   * what the sockets hold, without the free pages a heap keeps (VmRSS counts those, and a heap
   * that grew during the warm-up holds the measured sockets in pages it already had).
   */
  heapBytesPerSocket: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  notes: string[];
}

export async function runMemory(target: Target, opts: MemoryOptions): Promise<MemoryResult> {
  const stamp = Date.now().toString(36);
  const perConv = Math.ceil(opts.sockets / opts.conversations);
  const warmPerConv = Math.ceil(opts.warmupSockets / opts.conversations);
  const convs = Array.from({ length: opts.conversations }, (_, c) => `mem-${stamp}-${c}`);
  const urls: string[] = [];
  const warmUrls: string[] = [];
  for (const [c, conv] of convs.entries()) {
    const members = Array.from({ length: perConv }, (_, j) => `mem-u${c}-${j}`);
    const warmers = Array.from({ length: warmPerConv }, (_, j) => `mem-w${c}-${j}`);
    await target.createConversation(conv, [...members, ...warmers]);
    for (const m of members) {
      if (urls.length < opts.sockets) urls.push(target.wsUrl(conv, await target.token(m)));
    }
    for (const m of warmers) {
      if (warmUrls.length < opts.warmupSockets) warmUrls.push(target.wsUrl(conv, await target.token(m)));
    }
  }
  // The warm-up users' sockets stay open while the measured ones connect: memory they freed on
  // closing (heap pages, buffers) would be reused by the measured sockets, and the increase would
  // hide their cost (0.3× the floor in a trial run that closed them first).
  const warm = await openClients(warmUrls, 100, 60_000, target.dialect);
  await waitQuiet(warm, 300, 3_000);
  const pauseMs = opts.pauseMs ?? 1_000;
  await new Promise((r) => setTimeout(r, pauseMs));

  const pid = target.server.pid;
  const heapBefore = await settledHeap(pid);
  const before = await settledRss(pid, opts.rssSamples);
  const clients = await openClients(urls, 100, 60_000, target.dialect);
  const notes: string[] = [];
  let closed = 0;
  clients.onClose = (i, code) => {
    closed++;
    if (notes.length < 3) notes.push(`socket ${i} closed ${code} while idle`);
  };
  try {
    await waitQuiet(clients, 500, 10_000);
    await new Promise((r) => setTimeout(r, pauseMs));
    const heapAfter = await settledHeap(pid);
    const after = await settledRss(pid, opts.rssSamples);
    if (closed > 0) notes.push(`${closed} sockets closed during the measurement`);
    return {
      bytesPerSocket: (after - before) / opts.sockets,
      heapBytesPerSocket: (heapAfter - heapBefore) / opts.sockets,
      rssBeforeBytes: before,
      rssAfterBytes: after,
      notes,
    };
  } finally {
    await clients.closeAll();
    await warm.closeAll();
  }
}
