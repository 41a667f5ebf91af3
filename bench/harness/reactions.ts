/**
 * Durable reactions on one hot message: `users` members of one conversation, each closed-loop,
 * alternately adding and removing their reaction to the same message (`PUT` / `DELETE
 * …/reactions/:key`). Each answer is a change entry committed through the same group commit as
 * sends; the bench reports changes/s beside the relay's durable sends/s of the same run.
 * Relay only: the floor has no notion of a change.
 */
import http from "node:http";
import { request } from "./http-load.ts";
import { cpuMeter } from "./spawn.ts";
import { type LatencySummary, summarize } from "./stats.ts";
import type { Target } from "./target.ts";

export interface ReactionsOptions {
  users: number;
  warmupMs: number;
  durationMs: number;
}

export interface ReactionsResult {
  changesPerSec: number;
  latency: LatencySummary;
  errors: number;
  cpu: { server: number; client: number };
  notes: string[];
}

export async function runReactions(target: Target, opts: ReactionsOptions): Promise<ReactionsResult> {
  const conv = `hot-${Date.now().toString(36)}`;
  const users = Array.from({ length: opts.users }, (_, i) => `hot-u${i}`);
  await target.createConversation(conv, users);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.users });
  const base = `${target.server.baseUrl}/v1/conversations/${conv}/messages`;
  const first = await request(
    agent,
    "POST",
    new URL(base),
    await target.token(users[0] as string),
    JSON.stringify({ clientMessageId: "hot", body: "react to me" }),
  );
  if (first.status !== 201) throw new Error(`the hot message: ${first.status} ${first.body.slice(0, 160)}`);
  const seq = (JSON.parse(first.body) as { message: { seq: number } }).message.seq;
  const latencies: number[] = [];
  const notes: string[] = [];
  let errors = 0;
  let completed = 0;
  const t0 = performance.now();
  const measureFrom = t0 + opts.warmupMs;
  const measureTo = measureFrom + opts.durationMs;
  const loop = async (i: number) => {
    const token = await target.token(users[i] as string);
    // Four keys shared by everyone (a message holds at most 20): each user toggles their own
    // reaction, so every request changes the message (no no-ops).
    const url = new URL(`${base}/${seq}/reactions/k${i % 4}`);
    for (let n = 0; n < 1_000_000 && performance.now() < measureTo; n++) {
      const start = performance.now();
      let reply: { status: number; body: string };
      try {
        reply = await request(agent, n % 2 === 0 ? "PUT" : "DELETE", url, token);
      } catch (err) {
        errors++;
        if (notes.length < 3) notes.push(`request error: ${(err as Error).message}`);
        if (errors > 100) return;
        continue;
      }
      const end = performance.now();
      if (reply.status !== 200) {
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
    await Promise.all(users.map((_, i) => loop(i)));
  } finally {
    clearTimeout(meterTimer);
    agent.destroy();
  }
  return {
    changesPerSec: completed / (opts.durationMs / 1000),
    latency: summarize(latencies),
    errors,
    cpu: meter ? meter() : { server: Number.NaN, client: Number.NaN },
    notes,
  };
}
