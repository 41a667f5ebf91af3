/**
 * Durable HTTP sends: `senders` closed-loop clients (each waits for its response before sending
 * again) over `conversations` conversations, one keep-alive agent. Only requests that complete inside
 * the measured window (after the warm-up) count, for throughput and for latency.
 */
import http from "node:http";
import { newClientMessageId } from "../../client/ids.ts";
import { cpuMeter } from "./spawn.ts";
import { type LatencySummary, summarize } from "./stats.ts";
import { type CommitCounters, commitsBetween, type Target } from "./target.ts";

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
  /** The relay's group commits in the window (from its /metrics): what a 201 waits for. */
  commits?: ReturnType<typeof commitsBetween>;
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

/** One request of a closed loop. */
export interface LoopRequest {
  method: string;
  url: URL;
  token: string;
  payload?: string;
}

export interface LoopOutcome {
  /** Answers with `okStatus` that completed inside the measured window. */
  completed: number;
  latencies: number[];
  errors: number;
  notes: string[];
  cpu: { server: number; client: number };
  commits?: ReturnType<typeof commitsBetween>;
}

/**
 * Closed loops over one keep-alive agent: each loop sends its next request only when the last
 * one was answered. After `warmupMs`, only answers that complete inside the `durationMs` window
 * count; anything but `okStatus` is an error (a loop gives up after 100). Bounded in time and
 * in count (no more than 1M requests per loop). CPU is metered over the measured part.
 */
export async function closedLoops(
  target: Target,
  agent: http.Agent,
  loops: Array<() => Promise<(n: number) => LoopRequest>>,
  okStatus: number,
  opts: { warmupMs: number; durationMs: number },
): Promise<LoopOutcome> {
  const latencies: number[] = [];
  const notes: string[] = [];
  let errors = 0;
  let completed = 0;
  // Every loop gets ready (its token, its URLs) before the clock starts: a slow start must delay
  // the window, not eat it. A loaded suite run once saw a quick run's window with almost no send
  // (2 commits' worth), most likely its senders still minting tokens after warm-up and window.
  const readyFrom = performance.now();
  const starts = await Promise.all(loops.map((start) => start()));
  const readyMs = performance.now() - readyFrom;
  if (readyMs > opts.warmupMs) notes.push(`the senders took ${Math.round(readyMs)} ms to get ready`);
  const measureFrom = performance.now() + opts.warmupMs;
  const measureTo = measureFrom + opts.durationMs;
  const run = async (next: (n: number) => LoopRequest) => {
    for (let n = 0; n < 1_000_000 && performance.now() < measureTo; n++) {
      const r = next(n);
      const sentAt = performance.now();
      let reply: Reply;
      try {
        reply = await request(agent, r.method, r.url, r.token, r.payload);
      } catch (err) {
        errors++;
        if (notes.length < 3) notes.push(`request error: ${(err as Error).message}`);
        if (errors > 100) return;
        continue;
      }
      const end = performance.now();
      if (reply.status !== okStatus) {
        errors++;
        if (notes.length < 3) notes.push(`status ${reply.status}: ${reply.body.slice(0, 160)}`);
        if (errors > 100) return;
        continue;
      }
      if (end >= measureFrom && end <= measureTo) {
        latencies.push(end - sentAt);
        completed++;
      }
    }
  };
  let meter: (() => { server: number; client: number }) | undefined;
  let countersBefore: Promise<CommitCounters> | undefined;
  const meterTimer = setTimeout(() => {
    meter = cpuMeter(target.server.pid);
    countersBefore = target.commitCounters?.();
  }, opts.warmupMs);
  try {
    await Promise.all(starts.map(run));
  } finally {
    clearTimeout(meterTimer);
    agent.destroy();
  }
  const cpu = meter ? meter() : { server: Number.NaN, client: Number.NaN };
  // Read after the CPU: a scrape costs the relay CPU.
  const before = await countersBefore;
  const after = before && (await target.commitCounters?.());
  return {
    completed,
    latencies,
    errors,
    notes,
    cpu,
    ...(before && after ? { commits: commitsBetween(before, after) } : {}),
  };
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
  const loops = senders.map((s, i) => async () => {
    const token = await target.token(s.user);
    const url = new URL(`${target.server.baseUrl}/v1/conversations/${encodeURIComponent(s.conv)}/messages`);
    return (n: number): LoopRequest => ({
      method: "POST",
      url,
      token,
      payload: JSON.stringify({ clientMessageId: newClientMessageId(), body: `${i} ${n} ${pad}` }),
    });
  });
  const out = await closedLoops(target, agent, loops, 201, opts);
  return {
    cpu: out.cpu,
    ...(out.commits ? { commits: out.commits } : {}),
    sendsPerSec: out.completed / (opts.durationMs / 1000),
    latency: summarize(out.latencies),
    errors: out.errors,
    notes: out.notes,
  };
}
