/**
 * Socket sends with ack: `conversations` rooms × `perConversation` sockets, every socket a member
 * sending closed-loop over its own socket (a `send` frame, the next one only when its ack came back)
 * while it also receives its room's fan-out. Parley acks once the message is durable; Socket.IO's
 * emit-with-ack and the floor store nothing. After `warmupMs`, only acks that arrive inside the
 * `durationMs` window count, for throughput and for latency.
 */

import { newClientMessageId } from "../../client/ids.ts";
import { openClients, waitQuiet } from "./sockets.ts";
import { cpuMeter } from "./spawn.ts";
import { type LatencySummary, summarize } from "./stats.ts";
import { type CommitCounters, commitsBetween, type Target } from "./target.ts";

export interface SocketSendsOptions {
  conversations: number;
  perConversation: number;
  warmupMs: number;
  durationMs: number;
  bodyBytes: number;
}

export interface SocketSendsResult {
  sendsPerSec: number;
  /** Messages received by all sockets inside the window, per second (fan-out to the room). */
  deliveriesPerSec: number;
  latency: LatencySummary;
  errors: number;
  /** % of one core used during the measured window, by the server and by this load generator. */
  cpu: { server: number; client: number };
  /** The relay's group commits in the window (from its /metrics): what an ack waits for. */
  commits?: ReturnType<typeof commitsBetween>;
  notes: string[];
}

export async function runSocketSends(target: Target, opts: SocketSendsOptions): Promise<SocketSendsResult> {
  const stamp = Date.now().toString(36);
  const urls: string[] = [];
  for (let c = 0; c < opts.conversations; c++) {
    const conv = `ws-${stamp}-${c}`;
    const members = Array.from({ length: opts.perConversation }, (_, j) => `ws-u${c}-${j}`);
    await target.createConversation(conv, members);
    for (const m of members) urls.push(target.wsUrl(conv, await target.token(m)));
  }
  const dialect = target.dialect;
  const clients = await openClients(urls, 50, 30_000, dialect);
  const notes: string[] = [];
  try {
    await waitQuiet(clients, 300, 5_000);
    const n = urls.length;
    const sentAt = new Float64Array(n);
    const sends = new Int32Array(n);
    const latencies: number[] = [];
    const pad = "x".repeat(Math.max(0, opts.bodyBytes - 20));
    let errors = 0;
    let deliveries = 0;
    let idle = 0; // sockets that stopped sending (the window is over)
    const measureFrom = performance.now() + opts.warmupMs;
    const measureTo = measureFrom + opts.durationMs;
    let meter: (() => { server: number; client: number }) | undefined;
    let countersBefore: Promise<CommitCounters> | undefined;
    const meterTimer = setTimeout(() => {
      meter = cpuMeter(target.server.pid);
      countersBefore = target.commitCounters?.();
    }, opts.warmupMs);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`socket sends: ${n - idle}/${n} sockets still waiting for an ack`)),
          opts.warmupMs + opts.durationMs + 15_000,
        );
        const fail = (err: Error) => {
          clearTimeout(timer);
          reject(err);
        };
        const sendNext = (i: number) => {
          if (performance.now() >= measureTo || sends[i] === 1_000_000) {
            if (++idle === n) {
              clearTimeout(timer);
              resolve();
            }
            return;
          }
          const k = sends[i] as number;
          sends[i] = k + 1;
          sentAt[i] = performance.now();
          clients.sockets[i]?.send(dialect.send(k, newClientMessageId(), `${i} ${k} ${pad}`));
        };
        clients.onClose = (i, code, reason) =>
          fail(new Error(`socket sends: socket ${i} closed ${code} ${reason}`));
        clients.onFrame = (i, data) => {
          const now = performance.now();
          if (dialect.isMessage(data)) {
            if (now >= measureFrom && now <= measureTo) deliveries++;
          } else if (dialect.isAck(data)) {
            if (now >= measureFrom && now <= measureTo) latencies.push(now - (sentAt[i] as number));
            sendNext(i);
          } else if (dialect.isError(data)) {
            errors++;
            if (notes.length < 3) notes.push(`socket ${i}: ${data.toString("utf8").slice(0, 160)}`);
            if (errors > 100) fail(new Error(`socket sends: more than 100 errors; first: ${notes[0]}`));
            else sendNext(i);
          }
        };
        for (let i = 0; i < n; i++) sendNext(i);
      });
    } finally {
      clearTimeout(meterTimer);
    }
    const seconds = opts.durationMs / 1000;
    const cpu = meter ? meter() : { server: Number.NaN, client: Number.NaN };
    // Read after the CPU (a scrape costs the relay CPU); the window's last acks are a few ms old.
    const before = await countersBefore;
    const after = before && (await target.commitCounters?.());
    return {
      sendsPerSec: latencies.length / seconds,
      deliveriesPerSec: deliveries / seconds,
      latency: summarize(latencies),
      errors,
      cpu,
      ...(before && after ? { commits: commitsBetween(before, after) } : {}),
      notes,
    };
  } finally {
    await clients.closeAll();
  }
}
