/** Shared checks of the hostile-input suite: nothing was stored, and the relay keeps serving. */
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import type { Message } from "../helpers/clients.ts";
import { history, range, send, uid, type World } from "../helpers/world.ts";
import { RawWs } from "./raw-ws.ts";

/** A second tenant beside `default`. */
export const ACME = {
  id: "acme",
  secret: "acme-secret-0123456789abcdef0123456789abcdef",
  serverKey: "sk_acme_0123456789abcdef",
} as const;

export const appsEnv = { PARLEY_APPS: JSON.stringify([ACME]) };

/**
 * After a hostile request: the conversation still holds exactly seqs 1..`lastSeq` (nothing of
 * the attack was stored), the server process is alive, and a normal send by `member` is
 * stored as the next seq. Returns that message.
 */
export async function expectIntactAndServing(
  w: World,
  conv: string,
  member: string,
  lastSeq = 0,
): Promise<Message> {
  expect(w.server.proc.exitCode, "the relay process is still running").toBeNull();
  expect(w.server.proc.signalCode).toBeNull();
  const a = await w.as(member);
  const before = await history(a, conv);
  expect(
    before.map((m) => m.seq),
    `nothing stored beyond seq ${lastSeq}`,
  ).toEqual(range(1, lastSeq));
  const m = await send(a, conv, uid("ok"), "a normal send after the attack");
  expect(m.seq).toBe(lastSeq + 1);
  const health = await fetch(`${w.server.url}/healthz`);
  expect(health.status).toBe(200);
  return m;
}

/**
 * Like `expectIntactAndServing`, for when sends accepted just before an attack's close may still
 * be committing: a normal send is queued behind them in the room's commit order, so once it is
 * acknowledged everything accepted before it is stored. Then the log must be 1..its seq, each
 * key once, ending with it.
 */
export async function expectSettledAndServing(w: World, conv: string, member: string): Promise<Message[]> {
  expect(w.server.proc.exitCode, "the relay process is still running").toBeNull();
  expect(w.server.proc.signalCode).toBeNull();
  const a = await w.as(member);
  const m = await send(a, conv, uid("ok"), "a normal send after the attack");
  const stored = await history(a, conv);
  expect(stored.map((s) => s.seq)).toEqual(range(1, m.seq));
  expect(new Set(stored.map((s) => s.clientMessageId)).size, "no key stored twice").toBe(stored.length);
  expect(stored.at(-1)?.clientMessageId).toBe(m.clientMessageId);
  expect((await fetch(`${w.server.url}/healthz`)).status).toBe(200);
  return stored;
}

/** A raw socket to a conversation, handshake done, `synced` received. */
export async function rawSynced(w: World, user: string, conv: string, after?: number): Promise<RawWs> {
  const q = new URLSearchParams({ token: await w.token(user) });
  if (after !== undefined) q.set("after", String(after));
  const ws = await RawWs.connect(w.server.port, `/parties/conversation/${conv}?${q}`);
  await ws.waitFor((f) => f.type === "synced", 5000, "synced");
  return ws;
}

/** Resident memory of a process in bytes (Linux), or null. */
export function rssOf(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export { uid };
