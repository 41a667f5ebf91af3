/**
 * Fan-out: one conversation, S subscribers; subscriber 0 also sends, over its socket, `send` frames
 * with at most `window` messages not yet delivered to every socket. Deliveries/s = S × N over the
 * time from the first send to the moment the last socket got the last message. Each message's
 * full-delivery time (its send → the last socket got it) is kept too: the big-room metric reports
 * its p99.
 */
import { openClients, waitQuiet } from "./sockets.ts";
import { cpuMeter } from "./spawn.ts";
import { type LatencySummary, summarize } from "./stats.ts";
import type { Target } from "./target.ts";

export interface FanoutOptions {
  subscribers: number;
  messages: number;
  warmup: number;
  window: number;
  bodyBytes: number;
  timeoutMs: number;
  /** Handshakes at a time while the sockets open (default 50), and how long they may take (default 30 s). */
  openConcurrency?: number;
  openTimeoutMs?: number;
  /** Longest wait for the sockets to go quiet (presence chatter) after they opened (default 5 s). */
  quietMaxMs?: number;
  /** Member ids are `<prefix><i>` (default `fan-u`). */
  userPrefix?: string;
}

export interface FanoutResult {
  deliveriesPerSec: number;
  messagesPerSec: number;
  elapsedMs: number;
  /** Per measured message: ms from its send to the moment the last socket got it. */
  fullDelivery: LatencySummary;
  /** % of one core used during the measured phase, by the server and by this load generator. */
  cpu: { server: number; client: number };
  notes: string[];
}

export async function runFanout(target: Target, opts: FanoutOptions): Promise<FanoutResult> {
  const conv = `fan-${Date.now().toString(36)}`;
  const prefix = opts.userPrefix ?? "fan-u";
  const users = Array.from({ length: opts.subscribers }, (_, i) => `${prefix}${i}`);
  await target.createConversation(conv, users);
  const urls = await Promise.all(users.map(async (u) => target.wsUrl(conv, await target.token(u))));
  const dialect = target.dialect;
  const clients = await openClients(urls, opts.openConcurrency ?? 50, opts.openTimeoutMs ?? 30_000, dialect);
  const notes: string[] = [];
  let ackIds = 0;
  try {
    await waitQuiet(clients, 300, opts.quietMaxMs ?? 5_000);
    await phase("warm", opts.warmup);
    const meter = cpuMeter(target.server.pid);
    const latencies: number[] = [];
    const t = await phase("run", opts.messages, latencies);
    const cpu = meter();
    if (clients.binaryFrames > 0) notes.push(`${clients.binaryFrames} frames arrived as binary, not text`);
    return {
      cpu,
      deliveriesPerSec: (opts.subscribers * opts.messages) / (t / 1000),
      messagesPerSec: opts.messages / (t / 1000),
      elapsedMs: t,
      fullDelivery: summarize(latencies),
      notes,
    };
  } finally {
    await clients.closeAll();
  }

  /**
   * Send n messages, resolve with the elapsed ms once every socket has all of them; each message's
   * full-delivery time goes into `latencies` (when given).
   */
  function phase(tag: string, n: number, latencies?: number[]): Promise<number> {
    const S = opts.subscribers;
    const perSocket = new Int32Array(S); // message frames received by each socket in this phase
    const done = new Int32Array(n); // how many sockets have message k; non-increasing in k
    const sentAt = new Float64Array(n); // performance.now() at the send of message k
    let full = 0; // messages delivered to every socket (a prefix, since each socket gets them in order)
    let sent = 0;
    let lastSeq = -1; // order check on socket 1 (not the sender)
    const pad = "x".repeat(Math.max(0, opts.bodyBytes - 24));
    const sender = clients.sockets[0];
    if (!sender) throw new Error("no sender socket");
    return new Promise<number>((resolve, reject) => {
      let start = 0;
      const timer = setTimeout(() => {
        reject(new Error(`fan-out ${tag}: timeout after ${opts.timeoutMs} ms, ${full}/${n} fully delivered`));
      }, opts.timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      const pump = () => {
        while (sent < n && sent - full < opts.window) {
          const clientMessageId = `${tag}-${sent}`;
          sentAt[sent] = performance.now();
          sender.send(dialect.send(ackIds++, clientMessageId, `${tag} ${sent} ${pad}`));
          sent++;
        }
      };
      clients.onClose = (i, code, reason) => fail(new Error(`fan-out: socket ${i} closed ${code} ${reason}`));
      clients.onFrame = (i, data) => {
        if (!dialect.isMessage(data)) {
          if (i === 0 && dialect.isError(data)) {
            fail(new Error(`fan-out: error frame ${data.toString("utf8").slice(0, 200)}`));
          }
          return;
        }
        const k = perSocket[i] as number;
        if (k >= n) return;
        perSocket[i] = k + 1;
        if (i === 1) {
          const seq = dialect.seqOf(data);
          if (lastSeq !== -1 && seq !== lastSeq + 1 && notes.length < 3) {
            notes.push(`socket 1 saw seq ${seq} after ${lastSeq}`);
          }
          lastSeq = seq;
        }
        const d = (done[k] as number) + 1;
        done[k] = d;
        if (d === S) {
          latencies?.push(performance.now() - (sentAt[k] as number));
          full++;
          if (full === n) {
            clearTimeout(timer);
            resolve(performance.now() - start);
            return;
          }
          pump();
        }
      };
      start = performance.now();
      pump();
    });
  }
}
