/**
 * Memory per idle socket: `sockets` sockets spread over `conversations` conversations. The server's
 * VmRSS is read (after a forced GC, median of a few reads) before and after they connect and go
 * quiet; the increase divided by the socket count is the result. A small warm-up batch is opened and
 * closed first, so code that runs on the first connections (JIT, lazily loaded modules) is not counted.
 */
import { openClients, waitQuiet } from "./sockets.ts";
import { settledRss } from "./spawn.ts";
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
  bytesPerSocket: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  notes: string[];
}

export async function runMemory(target: Target, opts: MemoryOptions): Promise<MemoryResult> {
  const stamp = Date.now().toString(36);
  const perConv = Math.ceil(opts.sockets / opts.conversations);
  const convs = Array.from({ length: opts.conversations }, (_, c) => `mem-${stamp}-${c}`);
  const urls: string[] = [];
  for (const [c, conv] of convs.entries()) {
    const members = Array.from({ length: perConv }, (_, j) => `mem-u${c}-${j}`);
    await target.createConversation(conv, members);
    for (const m of members) {
      if (urls.length < opts.sockets) urls.push(target.wsUrl(conv, await target.token(m)));
    }
  }
  // Warm-up: the last member of each conversation, opened then closed (they stay members).
  const warmUrls = urls.filter((_, i) => i % perConv === perConv - 1).slice(0, opts.warmupSockets);
  const warm = await openClients(warmUrls, 50, 30_000, target.dialect);
  await waitQuiet(warm, 300, 3_000);
  await warm.closeAll();
  const pauseMs = opts.pauseMs ?? 1_000;
  await new Promise((r) => setTimeout(r, pauseMs));

  const pid = target.server.pid;
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
    const after = await settledRss(pid, opts.rssSamples);
    if (closed > 0) notes.push(`${closed} sockets closed during the measurement`);
    return {
      bytesPerSocket: (after - before) / opts.sockets,
      rssBeforeBytes: before,
      rssAfterBytes: after,
      notes,
    };
  } finally {
    await clients.closeAll();
  }
}
