/**
 * Peer: the durable chat service a team would write in an afternoon. Hono on
 * `@hono/node-server`, `@libsql/client` on a local file with the relay's durability (WAL, and
 * `synchronous` FULL unless PARLEY_DB_SYNC=normal, as store/open.ts does), one INSERT per send,
 * and a broadcast to the conversation's sockets with `ws`. No group commit, no actors, no caches.
 *
 * - `GET /healthz` → 200
 * - `POST /v1/conversations` (server key) `{id, members}` → 201
 * - `POST /v1/conversations/:id/messages` (user JWT) `{clientMessageId, body}` → 201 `{message}`
 *   once the row is committed; a repeated clientMessageId answers 200 with the stored message
 * - `GET /parties/conversation/:id?token=` (upgrade): the member's socket gets `synced`, then
 *   every new message of the conversation as a `message` frame
 *
 * Env: PORT, HOST, PARLEY_DB_URL (file:…), PARLEY_SECRET, PARLEY_SERVER_KEY, PARLEY_DB_SYNC.
 * Prints `listening on http://<host>:<port>` when ready.
 */
import { randomUUID } from "node:crypto";
import { serve } from "@hono/node-server";
import { createClient } from "@libsql/client";
import { Hono } from "hono";
import { jwtVerify } from "jose";
import { type WebSocket, WebSocketServer } from "ws";

const secret = new TextEncoder().encode(process.env.PARLEY_SECRET ?? "");
const serverKey = process.env.PARLEY_SERVER_KEY ?? "";
const sync = process.env.PARLEY_DB_SYNC === "normal" ? "NORMAL" : "FULL";

// One connection (every call is a short synchronous step), so its pragmas hold for every write.
const db = createClient({ url: process.env.PARLEY_DB_URL ?? "file:naive.db", concurrency: 1 });
await db.execute("PRAGMA journal_mode = WAL");
await db.execute(`PRAGMA synchronous = ${sync}`);
const syncLevel = (await db.execute("PRAGMA synchronous")).rows[0]?.[0];
await db.executeMultiple(`
  CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, title TEXT, created_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS members (
    conversation_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (conversation_id, user_id)
  );
  CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, sender_id TEXT NOT NULL,
    client_message_id TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (conversation_id, seq), UNIQUE (conversation_id, sender_id, client_message_id)
  );
`);

async function userOf(authorization: string | undefined): Promise<string | undefined> {
  const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined;
  if (!token) return undefined;
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ["HS256"] });
    return typeof payload.sub === "string" ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

async function isMember(conversationId: string, userId: string): Promise<boolean> {
  const r = await db.execute({
    sql: "SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?",
    args: [conversationId, userId],
  });
  return r.rows.length > 0;
}

const rooms = new Map<string, Set<WebSocket>>();
function broadcast(conversationId: string, frame: unknown): void {
  const sockets = rooms.get(conversationId);
  if (!sockets?.size) return;
  const text = JSON.stringify(frame);
  for (const ws of sockets) ws.send(text);
}

const error = (code: string, message: string) => ({ error: { code, message } });

const app = new Hono();
app.get("/healthz", (c) => c.json({ ok: true }));

app.post("/v1/conversations", async (c) => {
  if (c.req.header("authorization") !== `Bearer ${serverKey}`) {
    return c.json(error("unauthorized", "server key required"), 401);
  }
  const input = (await c.req.json().catch(() => null)) as { id?: unknown; members?: unknown } | null;
  const id = typeof input?.id === "string" ? input.id : randomUUID();
  const members = Array.isArray(input?.members) ? input.members.filter((m) => typeof m === "string") : [];
  await db.batch(
    [
      {
        sql: "INSERT INTO conversations (id, created_at) VALUES (?, ?)",
        args: [id, new Date().toISOString()],
      },
      ...members.map((m) => ({ sql: "INSERT INTO members VALUES (?, ?)", args: [id, m] })),
    ],
    "write",
  );
  return c.json({ conversation: { id, title: null, members, lastSeq: 0 } }, 201);
});

app.post("/v1/conversations/:id/messages", async (c) => {
  const userId = await userOf(c.req.header("authorization"));
  if (!userId) return c.json(error("unauthorized", "a valid token is required"), 401);
  const conversationId = c.req.param("id");
  const input = (await c.req.json().catch(() => null)) as {
    clientMessageId?: unknown;
    body?: unknown;
  } | null;
  const clientMessageId = input?.clientMessageId;
  const body = input?.body;
  if (typeof clientMessageId !== "string" || typeof body !== "string" || body.length > 16_000) {
    return c.json(error("bad_request", "clientMessageId and body (string) are required"), 400);
  }
  if (!(await isMember(conversationId, userId))) return c.json(error("forbidden", "not a member"), 403);
  const id = randomUUID();
  const createdAt = new Date().toISOString();
  try {
    // The next seq is taken inside the INSERT itself, so the statement is the whole write.
    const r = await db.execute({
      sql: `INSERT INTO messages (id, conversation_id, seq, sender_id, client_message_id, body, created_at)
            SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM messages WHERE conversation_id = ?
            RETURNING seq`,
      args: [id, conversationId, userId, clientMessageId, body, createdAt, conversationId],
    });
    const seq = Number(r.rows[0]?.seq);
    const message = { id, conversationId, seq, senderId: userId, clientMessageId, body, createdAt };
    broadcast(conversationId, { type: "message", message });
    return c.json({ message }, 201);
  } catch (err) {
    if (!String((err as Error).message).includes("UNIQUE")) throw err;
    // A retry of a send that was stored: answer with the stored message.
    const r = await db.execute({
      sql: `SELECT id, seq, body, created_at FROM messages
            WHERE conversation_id = ? AND sender_id = ? AND client_message_id = ?`,
      args: [conversationId, userId, clientMessageId],
    });
    const row = r.rows[0];
    if (!row) throw err;
    const message = {
      id: String(row.id),
      conversationId,
      seq: Number(row.seq),
      senderId: userId,
      clientMessageId,
      body: String(row.body),
      createdAt: String(row.created_at),
    };
    return c.json({ message }, 200);
  }
});

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? "127.0.0.1";
const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
  console.log(`naive listening on http://${host}:${info.port} (synchronous=${syncLevel}, 2 = FULL)`);
});

const wss = new WebSocketServer({ noServer: true });
const PARTY = /^\/parties\/conversation\/([^/?]+)$/;
server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url ?? "/", "http://naive");
  const m = PARTY.exec(url.pathname);
  if (!m?.[1]) {
    socket.destroy();
    return;
  }
  const conversationId = decodeURIComponent(m[1]);
  const refuse = () => {
    socket.end("HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n");
  };
  userOf(`Bearer ${url.searchParams.get("token") ?? ""}`).then(async (userId) => {
    if (!userId || !(await isMember(conversationId, userId))) return refuse();
    const last = await db.execute({
      sql: "SELECT COALESCE(MAX(seq), 0) AS seq FROM messages WHERE conversation_id = ?",
      args: [conversationId],
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const sockets = rooms.get(conversationId) ?? new Set<WebSocket>();
      rooms.set(conversationId, sockets);
      sockets.add(ws);
      ws.on("close", () => sockets.delete(ws));
      ws.on("error", () => ws.terminate());
      ws.send(JSON.stringify({ type: "synced", lastSeq: Number(last.rows[0]?.seq ?? 0) }));
    });
  }, refuse);
});

function shutdown(): void {
  server.close();
  db.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
