/**
 * Durable HTTP sends: `senders` closed-loop clients (each waits for its response before sending
 * again) over `conversations` conversations, one keep-alive agent. Only requests that complete inside
 * the measured window (after the warm-up) count, for throughput and for latency.
 */
import http from "node:http";
import { cpuMeter } from "./spawn.ts";
import { type LatencySummary, summarize } from "./stats.ts";
import type { Target } from "./target.ts";

export interface HttpOptions {
  senders: number;
  conversations: number;
  warmupMs: number;
  durationMs: number;
  bodyBytes: number;
}

export interface HttpResult {
  sendsPerSec: number;
  latency: LatencySummary;
  errors: number;
  /** % of one core used during the measured window, by the server and by this load generator. */
  cpu: { server: number; client: number };
  notes: string[];
}

export interface Reply {
  status: number;
  body: string;
}

/** One keep-alive request with a bearer token (a JSON body when `payload` is given). */
export function request(
  agent: http.Agent,
  method: string,
  url: URL,
  token: string,
  payload?: string,
  timeoutMs = 10_000,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`request timeout (${timeoutMs / 1000} s)`)));
    req.on("error", reject);
    req.end(payload);
  });
}

export async function runHttp(target: Target, opts: HttpOptions): Promise<HttpResult> {
  const stamp = Date.now().toString(36);
  const convs = Array.from({ length: opts.conversations }, (_, c) => `http-${stamp}-${c}`);
  const senders = Array.from({ length: opts.senders }, (_, i) => ({
    user: `http-u${i}`,
    conv: convs[i % opts.conversations] as string,
  }));
  for (const conv of convs) {
    await target.createConversation(
      conv,
      senders.filter((s) => s.conv === conv).map((s) => s.user),
    );
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.senders });
  const pad = "x".repeat(Math.max(0, opts.bodyBytes - 20));
  const latencies: number[] = [];
  const notes: string[] = [];
  let errors = 0;
  const t0 = performance.now();
  const measureFrom = t0 + opts.warmupMs;
  const measureTo = measureFrom + opts.durationMs;
  let completed = 0;

  const loop = async (i: number) => {
    const s = senders[i];
    if (!s) return;
    const token = await target.token(s.user);
    const url = new URL(`${target.server.baseUrl}/v1/conversations/${encodeURIComponent(s.conv)}/messages`);
    // Bounded in time (measureTo) and in count (no more than 1M requests per sender).
    for (let n = 0; n < 1_000_000 && performance.now() < measureTo; n++) {
      const payload = JSON.stringify({ clientMessageId: `h${i}-${n}`, body: `${i} ${n} ${pad}` });
      const start = performance.now();
      let reply: Reply;
      try {
        reply = await request(agent, "POST", url, token, payload);
      } catch (err) {
        errors++;
        if (notes.length < 3) notes.push(`request error: ${(err as Error).message}`);
        if (errors > 100) return;
        continue;
      }
      const end = performance.now();
      if (reply.status !== 201) {
        errors++;
        if (notes.length < 3) notes.push(`status ${reply.status}: ${reply.body.slice(0, 160)}`);
        if (errors > 100) return;
        continue;
      }
      if (end >= measureFrom && end <= measureTo) {
        latencies.push(end - start);
        completed++;
      }
    }
  };
  let meter: (() => { server: number; client: number }) | undefined;
  const meterTimer = setTimeout(() => {
    meter = cpuMeter(target.server.pid);
  }, opts.warmupMs);
  try {
    await Promise.all(senders.map((_, i) => loop(i)));
  } finally {
    clearTimeout(meterTimer);
    agent.destroy();
  }
  const cpu = meter ? meter() : { server: Number.NaN, client: Number.NaN };
  return {
    cpu,
    sendsPerSec: completed / (opts.durationMs / 1000),
    latency: summarize(latencies),
    errors,
    notes,
  };
}
