import type { Server } from "node:http";
import type { Socket } from "node:net";

const pending = Symbol("parley.handshakeTimer");
type TimedSocket = Socket & { [pending]?: NodeJS.Timeout };

function settle(socket: TimedSocket): void {
  const timer = socket[pending];
  if (timer === undefined) return;
  clearTimeout(timer);
  socket[pending] = undefined;
  socket.off("close", settleOnClose);
}

/**
 * The `close` listener, shared (`this` is the socket) and removed once settled: a closure or a
 * `once` wrapper per socket would stay for the whole life of every WebSocket (issue 17: memory
 * per idle socket).
 */
function settleOnClose(this: TimedSocket): void {
  settle(this);
}

/**
 * Drops a TCP connection that has not completed its first request's headers (or its
 * WebSocket upgrade) within `timeoutMs`. Node's own headersTimeout leaves a connection that
 * sends nothing, or half a header, open; an attacker could hold thousands that way.
 */
export function enforceHandshakeTimeout(server: Server, timeoutMs: number): void {
  server.on("connection", (socket: TimedSocket) => {
    socket[pending] = setTimeout(() => socket.destroy(), timeoutMs);
    socket[pending].unref();
    socket.on("close", settleOnClose);
  });
  server.prependListener("request", (req) => settle(req.socket as TimedSocket));
  server.prependListener("upgrade", (req) => settle(req.socket as TimedSocket));
}
