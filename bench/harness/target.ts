/**
 * One side of the comparison, behind the same small interface: the relay, the floor, or a peer a
 * user might pick instead (bench/peers/: Socket.IO with connection state recovery, and a naive
 * durable service).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Dialect, parleyDialect, socketIoDialect } from "./dialect.ts";
import { ROOT, type Server, startServer } from "./spawn.ts";
import { tokenMinter } from "./tokens.ts";

export type Side = "floor" | "relay" | "socketio" | "naive";

/** How each side is named in the printed table. */
export const SIDE_NAMES: Record<Side, string> = {
  floor: "floor",
  relay: "relay",
  socketio: "Socket.IO 4.8",
  naive: "naive durable",
};

export interface Target {
  side: Side;
  server: Server;
  /** Create a conversation with these members (the floor just remembers the id). */
  createConversation(id: string, members: string[]): Promise<void>;
  /** A user token: a real HS256 JWT on both sides, so both cost the client the same. */
  token(userId: string): Promise<string>;
  wsUrl(conversationId: string, token: string): string;
  /** What its sockets speak. */
  dialect: Dialect;
  /** The relay's group-commit counters from `/metrics` (the relay only): to say per commit what a send waits for. */
  commitCounters?(): Promise<CommitCounters>;
  stop(): Promise<void>;
}

/** Running totals of the relay's group commits (its `/metrics`), read before and after a window. */
export interface CommitCounters {
  commits: number;
  entries: number;
  writeSeconds: number;
}

/** What the group commits did between two reads: entries per commit and the write's ms per commit. */
export function commitsBetween(
  before: CommitCounters,
  after: CommitCounters,
): { commits: number; entriesPerCommit: number; writeMsPerCommit: number } {
  const commits = after.commits - before.commits;
  return {
    commits,
    entriesPerCommit: (after.entries - before.entries) / commits,
    writeMsPerCommit: ((after.writeSeconds - before.writeSeconds) * 1000) / commits,
  };
}

/** One sample's value from Prometheus text (`name value`, no labels), NaN when absent. */
function sampleOf(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

export const RELAY_SCRIPT = "bin/parley.ts";
export const FLOOR_SCRIPT = "bench/floor-server.ts";
export const SOCKETIO_SCRIPT = "bench/peers/socketio-server.ts";
export const NAIVE_SCRIPT = "bench/peers/naive-server.ts";

export function relayAvailable(): boolean {
  return existsSync(join(ROOT, RELAY_SCRIPT));
}

/** Env for the relay: the contract's variables, with the bench's limits raised; `extra` overrides. */
export function relayEnv(dbUrl: string, secret: string, serverKey: string): Record<string, string> {
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    PARLEY_DB_URL: dbUrl,
    PARLEY_SECRET: secret,
    PARLEY_SERVER_KEY: serverKey,
    PARLEY_LOG: "warn",
    // The bench sends far beyond the per-user limits on purpose.
    PARLEY_SEND_RATE: "1000000",
    PARLEY_SEND_BURST: "1000000",
    PARLEY_FRAME_RATE: "1000000",
    PARLEY_FRAME_BURST: "1000000",
    PARLEY_INBOUND_BYTES_PER_SECOND: String(1024 ** 3),
    PARLEY_INBOUND_BYTES_BURST: String(1024 ** 3),
  };
}

/** The largest create body the bench sends the relay: under PARLEY_MAX_FRAME_BYTES' 64 KiB default. */
const CREATE_BODY_BYTES = 60_000;

/** How many of `members` (from the first) fit in a create body of `maxBytes` (JSON strings, commas). */
function membersThatFit(members: string[], maxBytes: number): number {
  let bytes = 200; // id, title and the JSON around them
  for (const [i, m] of members.entries()) {
    bytes += Buffer.byteLength(JSON.stringify(m)) + 1;
    if (bytes > maxBytes) return i;
  }
  return members.length;
}

/** Start one side's server; `startTimeoutMs` bounds the wait for its "listening on" line. */
export async function startTarget(
  side: Side,
  extraEnv: Record<string, string> = {},
  startTimeoutMs?: number,
): Promise<Target> {
  const secret = randomBytes(32).toString("hex");
  const serverKey = `sk_bench_${randomBytes(16).toString("hex")}`;
  const mint = tokenMinter(secret);
  const start = (name: string, script: string, env: Record<string, string>) =>
    startServer(name, script, env, startTimeoutMs);
  let dir: string | undefined;
  let server: Server;
  if (side === "relay") {
    dir = mkdtempSync(join(tmpdir(), "parley-bench-"));
    server = await start("relay", RELAY_SCRIPT, {
      ...relayEnv(`file:${join(dir, "parley.db")}`, secret, serverKey),
      ...extraEnv,
    }).catch((err: unknown) => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      throw err;
    });
  } else if (side === "naive") {
    // The same secrets and the same durability as the relay (PARLEY_DB_SYNC, full by default).
    dir = mkdtempSync(join(tmpdir(), "parley-bench-naive-"));
    server = await start("naive", NAIVE_SCRIPT, {
      PORT: "0",
      HOST: "127.0.0.1",
      PARLEY_DB_URL: `file:${join(dir, "naive.db")}`,
      PARLEY_SECRET: secret,
      PARLEY_SERVER_KEY: serverKey,
      ...extraEnv,
    }).catch((err: unknown) => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      throw err;
    });
  } else if (side === "socketio") {
    server = await start("socketio", SOCKETIO_SCRIPT, {
      PORT: "0",
      HOST: "127.0.0.1",
      PARLEY_SECRET: secret,
    });
  } else {
    server = await start("floor", FLOOR_SCRIPT, { PORT: "0", HOST: "127.0.0.1" });
  }
  const wsBase = server.baseUrl.replace(/^http/, "ws");
  if (side === "socketio") {
    // Socket.IO has no conversations to create: a socket joins the room named in its handshake.
    return {
      side,
      server,
      async createConversation() {},
      token: mint,
      wsUrl: (conversationId, token) =>
        `${wsBase}/socket.io/?EIO=4&transport=websocket&room=${encodeURIComponent(conversationId)}&token=${token}`,
      dialect: socketIoDialect,
      stop: () => server.stop(),
    };
  }
  return {
    side,
    server,
    dialect: parleyDialect,
    async createConversation(id, members) {
      // The relay takes a body of at most PARLEY_MAX_FRAME_BYTES (64 KiB): a big room is created
      // with the members that fit, and the rest are added one by one (the floor keeps no members;
      // the naive peer has no such cap and no route to add one).
      const first = side === "relay" ? membersThatFit(members, CREATE_BODY_BYTES) : members.length;
      const res = await fetch(`${server.baseUrl}/v1/conversations`, {
        method: "POST",
        headers: { authorization: `Bearer ${serverKey}`, "content-type": "application/json" },
        body: JSON.stringify({ id, title: `bench ${id}`, members: members.slice(0, first) }),
      });
      const text = await res.text();
      if (res.status !== 201) {
        throw new Error(`${side}: POST /v1/conversations ${id} → ${res.status} ${text.slice(0, 300)}`);
      }
      const rest = members.slice(first);
      const conv = encodeURIComponent(id);
      const addOne = async (userId: string) => {
        const put = await fetch(
          `${server.baseUrl}/v1/conversations/${conv}/members/${encodeURIComponent(userId)}`,
          {
            method: "PUT",
            headers: { authorization: `Bearer ${serverKey}` },
            signal: AbortSignal.timeout(10_000),
          },
        );
        const answer = await put.text();
        if (put.status !== 204) {
          throw new Error(
            `${side}: PUT /v1/conversations/${id}/members/${userId} → ${put.status} ${answer.slice(0, 300)}`,
          );
        }
      };
      // Eight at a time: they share group commits.
      let next = 0;
      const worker = async () => {
        while (next < rest.length) await addOne(rest[next++] as string);
      };
      await Promise.all(Array.from({ length: Math.min(8, rest.length) }, worker));
    },
    token: mint,
    ...(side === "relay"
      ? {
          async commitCounters(): Promise<CommitCounters> {
            const res = await fetch(`${server.baseUrl}/metrics`, {
              headers: { authorization: `Bearer ${serverKey}` },
              signal: AbortSignal.timeout(5_000),
            });
            const text = await res.text();
            if (res.status !== 200)
              throw new Error(`relay: GET /metrics → ${res.status} ${text.slice(0, 200)}`);
            return {
              commits: sampleOf(text, "parley_group_commit_entries_count"),
              entries: sampleOf(text, "parley_group_commit_entries_sum"),
              writeSeconds: sampleOf(text, "parley_commit_write_seconds_sum"),
            };
          },
        }
      : {}),
    wsUrl(conversationId, token) {
      return `${wsBase}/parties/conversation/${encodeURIComponent(conversationId)}?token=${token}`;
    },
    async stop() {
      await server.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
