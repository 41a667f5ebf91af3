/**
 * The floor: the least a chat relay could do on the same harness. Raw `node:http` + `ws`, no auth, no
 * storage, no validation beyond JSON parsing. It speaks just enough of CONTRACT.md for the bench:
 *
 * - `GET /healthz` → 200
 * - `POST /v1/conversations` → 201 (nothing is kept but an in-memory seq counter per id)
 * - `POST /v1/conversations/:id/messages` → parses the JSON, replies 201 with a message-shaped JSON
 * - `GET /parties/conversation/:id` (upgrade) → `synced` on connect; a `send` frame is broadcast as a
 *   `message` frame to every socket of the conversation, framed the naive way (`ws.send(string)` per
 *   socket), then acked to the sender.
 *
 * Env: PORT (0 = any), HOST. Prints `listening on http://<host>:<port>` when ready.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { type WebSocket, WebSocketServer } from "ws";

interface Room {
  seq: number;
  sockets: Set<WebSocket>;
}

const rooms = new Map<string, Room>();

function room(id: string): Room {
  let r = rooms.get(id);
  if (!r) {
    r = { seq: 0, sockets: new Set() };
    rooms.set(id, r);
  }
  return r;
}

function makeMessage(conversationId: string, senderId: string, clientMessageId: unknown, body: unknown) {
  const r = room(conversationId);
  r.seq += 1;
  return {
    id: randomUUID(),
    conversationId,
    seq: r.seq,
    senderId,
    clientMessageId: String(clientMessageId),
    body: String(body),
    createdAt: new Date().toISOString(),
  };
}

function reply(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (err) {
        reject(err);
      }
    });
    req.on("error", reject);
  });
}

const MESSAGES = /^\/v1\/conversations\/([^/]+)\/messages$/;
const PARTY = /^\/parties\/conversation\/([^/?]+)/;

const server = http.createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  if (req.method === "GET" && path === "/healthz") return reply(res, 200, { ok: true });
  if (req.method !== "POST") return reply(res, 404, { error: { code: "not_found", message: "no route" } });
  readJson(req).then(
    (raw) => {
      const body = (raw ?? {}) as Record<string, unknown>;
      if (path === "/v1/conversations") {
        const id = typeof body.id === "string" ? body.id : randomUUID();
        room(id);
        return reply(res, 201, {
          conversation: { id, title: null, members: body.members ?? [], lastSeq: 0 },
        });
      }
      const m = MESSAGES.exec(path);
      if (m?.[1]) {
        const message = makeMessage(decodeURIComponent(m[1]), "user", body.clientMessageId, body.body);
        return reply(res, 201, { message });
      }
      return reply(res, 404, { error: { code: "not_found", message: "no route" } });
    },
    () => reply(res, 400, { error: { code: "bad_request", message: "bad JSON" } }),
  );
});

const wss = new WebSocketServer({ noServer: true, clientTracking: false });

server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url ?? "/", "http://floor");
  const m = PARTY.exec(url.pathname);
  if (!m?.[1]) {
    socket.destroy();
    return;
  }
  const conversationId = decodeURIComponent(m[1]);
  const senderId = url.searchParams.get("user") ?? "user";
  wss.handleUpgrade(req, socket, head, (ws) => {
    const r = room(conversationId);
    r.sockets.add(ws);
    ws.on("close", () => r.sockets.delete(ws));
    ws.on("error", () => ws.terminate());
    ws.on("message", (data) => {
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        ws.send(JSON.stringify({ type: "error", code: "bad_frame", message: "bad JSON" }));
        return;
      }
      if (frame.type === "send") {
        const message = makeMessage(conversationId, senderId, frame.clientMessageId, frame.body);
        const text = JSON.stringify({ type: "message", message });
        for (const peer of r.sockets) peer.send(text); // naive: the string is framed once per socket
        ws.send(JSON.stringify({ type: "ack", clientMessageId: message.clientMessageId, message }));
      } else if (frame.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      }
    });
    ws.send(JSON.stringify({ type: "synced", lastSeq: r.seq }));
  });
});

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? "127.0.0.1";
server.listen(port, host, () => {
  const addr = server.address();
  const actual = typeof addr === "object" && addr ? addr.port : port;
  console.log(`floor listening on http://${host}:${actual}`);
});

function shutdown(): void {
  server.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
