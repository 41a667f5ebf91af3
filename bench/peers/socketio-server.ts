/**
 * Peer: Socket.IO 4.8 with connection state recovery, written as its docs suggest. It stores
 * nothing: a message lives in the adapter's recovery buffer (for 2 minutes) and in memory only.
 *
 * - `GET /healthz` → 200
 * - `/socket.io/?EIO=4&transport=websocket&room=<id>&token=<jwt>`: a middleware verifies the token
 *   (HS256, PARLEY_SECRET, as the relay does once per connection) and the socket joins `room`.
 * - `emit("send", { clientMessageId, body }, ack)`: the room gets `emit("message", message)` (the
 *   sender too, as with Parley), then the ack is answered with `{ message }`.
 *
 * Env: PORT (0 = any), HOST, PARLEY_SECRET. Prints `listening on http://<host>:<port>` when ready.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { jwtVerify } from "jose";
import { Server } from "socket.io";

const secret = new TextEncoder().encode(process.env.PARLEY_SECRET ?? "");
const seqs = new Map<string, number>();

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok":true}');
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(server, {
  transports: ["websocket"],
  serveClient: false,
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
});

io.use((socket, next) => {
  const token = socket.handshake.query.token;
  if (typeof token !== "string") return next(new Error("unauthorized"));
  jwtVerify(token, secret, { algorithms: ["HS256"] }).then(
    ({ payload }) => {
      socket.data.userId = String(payload.sub);
      next();
    },
    () => next(new Error("unauthorized")),
  );
});

io.on("connection", (socket) => {
  const room = String(socket.handshake.query.room ?? "");
  if (!socket.recovered) socket.join(room);
  socket.on("send", (payload: { clientMessageId?: unknown; body?: unknown }, ack?: unknown) => {
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    const message = {
      id: randomUUID(),
      conversationId: room,
      seq,
      senderId: socket.data.userId as string,
      clientMessageId: String(payload?.clientMessageId),
      body: String(payload?.body),
      createdAt: new Date().toISOString(),
    };
    io.to(room).emit("message", message);
    if (typeof ack === "function") ack({ message });
  });
});

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? "127.0.0.1";
server.listen(port, host, () => {
  const addr = server.address();
  const actual = typeof addr === "object" && addr ? addr.port : port;
  console.log(`socket.io listening on http://${host}:${actual}`);
});

function shutdown(): void {
  io.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
