/**
 * Requests Node's HTTP parser refuses before any route sees them (headers over its 16 KiB
 * limit, a malformed request line, headers that never finish): answered with the contract's
 * JSON error body like every other refusal, where Node alone would send an empty one.
 */
import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import type { ErrorBody } from "../../protocol/index.ts";

/** How long a refused connection may keep sending (its remaining headers) before it is cut. */
const DRAIN_MS = 2_000;

/** Status, reason phrase and body for a parser error code. */
function refusalOf(code: string | undefined): [number, string, ErrorBody] {
  if (code === "HPE_HEADER_OVERFLOW")
    return [
      431,
      "Request Header Fields Too Large",
      {
        error: {
          code: "too_large",
          message:
            "the request's headers are over 16 KiB; a token goes in Authorization (or ?token=) and is far smaller",
        },
      },
    ];
  if (code === "ERR_HTTP_REQUEST_TIMEOUT")
    return [
      408,
      "Request Timeout",
      { error: { code: "bad_request", message: "the request's headers did not arrive in time" } },
    ];
  return [
    400,
    "Bad Request",
    { error: { code: "bad_request", message: "the request is not valid HTTP/1.1" } },
  ];
}

/** Answers parser refusals on `server` with a JSON error body, then closes the connection. */
export function answerClientErrors(server: Server): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    // A response of this connection already started (a pipelined request before it): nothing
    // can be answered cleanly any more; and a reset peer cannot read an answer.
    const started = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (!socket.writable || started || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const [status, reason, body] = refusalOf(error.code);
    const text = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
    // Headers that never finished (a slowloris): cut now, it has had its time.
    if (status === 408) {
      socket.destroy();
      return;
    }
    // Read (and drop) what the client is still sending: closing with unread bytes would reset
    // the connection, and the client could lose the answer before it reads it.
    socket.resume();
    setTimeout(() => socket.destroy(), DRAIN_MS).unref();
  });
}
