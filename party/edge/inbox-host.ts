/** A user's inbox inside an edge actor: only its owner may connect; rooms push `thread` frames. */
import type { ConnectionIdentity } from "../core/connection.ts";
import { CloseCode } from "../core/errors.ts";
import { frames } from "../core/outbound-frame.ts";
import { parseClientFrame } from "../core/room-socket-frames.ts";
import type { ThreadItem } from "../core/types.ts";
import { splitName } from "./config.ts";
import { type EdgeWebSocket, identityOf } from "./room-host.ts";

/** A new inbox socket (the Worker already checked that it is the owner's). */
export function inboxConnect(
  name: string,
  ws: EdgeWebSocket,
  request: Request,
  others: Iterable<EdgeWebSocket>,
  remember: (identity: ConnectionIdentity) => void,
): void {
  const identity = identityOf(request.headers);
  const { app, key: owner } = splitName(name);
  if (identity.app !== app || identity.userId !== owner) {
    ws.close(CloseCode.forbidden, "you may open only your own inbox");
    return;
  }
  // A newer connection of the same client instance replaces the older one.
  if (identity.instanceId !== undefined) {
    for (const other of others) {
      const state = other.state as ConnectionIdentity | null;
      if (other.id !== ws.id && state?.instanceId === identity.instanceId) {
        other.close(CloseCode.replaced, "replaced by a newer connection of this client");
      }
    }
  }
  remember(identity);
}

/** The inbox socket only answers pings. */
export function inboxMessage(ws: EdgeWebSocket, message: string | ArrayBuffer | ArrayBufferView): void {
  const frame =
    typeof message === "string" ? parseClientFrame(message) : { error: "binary frames are not supported" };
  if ("error" in frame) ws.send(frames.error("bad_frame", frame.error).text);
  else if (frame.type === "ping") ws.send(frames.pong().text);
  else ws.send(frames.error("bad_frame", "the inbox socket accepts only ping frames").text);
}

/** One thread changed: tell every open inbox socket. */
export function inboxDeliver(sockets: Iterable<EdgeWebSocket>, item: ThreadItem): void {
  const text = frames.thread(item).text;
  for (const ws of sockets) {
    try {
      ws.send(text);
    } catch {
      // closing: nothing to deliver
    }
  }
}
