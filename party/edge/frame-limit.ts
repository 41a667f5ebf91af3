/**
 * The contract's frame limit on the edge: a socket frame over `maxFrameBytes` (64 KiB) closes
 * the socket with 1009 before anything parses it, as Node's `ws` does with `maxPayload`
 * (party/node/websocket-gateway.ts). workerd hands an actor the whole message, however large up
 * to its own cap (MiBs), so both edge actors, rooms and inboxes, check it here first.
 */
import type { SocketData } from "../core/connection.ts";
import { CloseCode } from "../core/errors.ts";
import type { EdgeWebSocket } from "./edge-socket.ts";

/**
 * The UTF-8 bytes of a text frame (what it was on the wire, what Node's limit counts), or a
 * binary frame's bytes. Counted only as far as needed to tell whether it is over `max`.
 */
function overLimit(data: SocketData, max: number): boolean {
  if (typeof data !== "string") return data.byteLength > max;
  // A UTF-16 unit is 1 to 3 bytes of UTF-8 (a surrogate pair, two units, is 4).
  if (data.length > max) return true;
  if (data.length * 3 <= max) return false;
  let bytes = 0;
  for (let i = 0; i < data.length; i++) {
    const unit = data.charCodeAt(i);
    bytes += unit < 0x80 ? 1 : unit < 0x800 || (unit >= 0xd800 && unit < 0xe000) ? 2 : 3;
    if (bytes > max) return true;
  }
  return false;
}

/**
 * Closes `ws` with 1009 when `data` is over `maxFrameBytes`, and says whether it did: the frame
 * is then dropped unread (not parsed, not charged to any budget), and the client may reconnect.
 */
export function closeIfTooLarge(ws: EdgeWebSocket, data: SocketData, maxFrameBytes: number): boolean {
  if (!overLimit(data, maxFrameBytes)) return false;
  try {
    ws.close(CloseCode.tooLarge, "frame too large");
  } catch {
    // Closed meanwhile.
  }
  return true;
}
