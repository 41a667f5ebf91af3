/**
 * Durable reactions on one hot message: `users` members of one conversation, each closed-loop,
 * alternately adding and removing their reaction to the same message (`PUT` / `DELETE
 * …/reactions/:key`). Each answer is a change entry committed through the same group commit as
 * sends; the bench reports changes/s beside the relay's durable sends/s of the same run.
 * Relay only: the floor has no notion of a change.
 */
import http from "node:http";
import { closedLoops, type LoopRequest, request } from "./http-load.ts";
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
  const loops = users.map((user, i) => async () => {
    const token = await target.token(user);
    // Four keys shared by everyone (a message holds at most 20): each user toggles their own
    // reaction, so every request changes the message (no no-ops).
    const url = new URL(`${base}/${seq}/reactions/k${i % 4}`);
    return (n: number): LoopRequest => ({ method: n % 2 === 0 ? "PUT" : "DELETE", url, token });
  });
  const out = await closedLoops(target, agent, loops, 200, opts);
  return {
    changesPerSec: out.completed / (opts.durationMs / 1000),
    latency: summarize(out.latencies),
    errors: out.errors,
    cpu: out.cpu,
    notes: out.notes,
  };
}
