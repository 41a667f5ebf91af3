/**
 * A user's inbox as a Durable Object: their live thread list. Rooms call `deliver` after each
 * change; with hibernation on, an inbox nobody listens to costs nothing.
 */
import { type Connection as PartyConnection, Server, type WSMessage } from "partyserver";
import type { ConnectionIdentity } from "../core/connection.ts";
import { CloseCode } from "../core/errors.ts";
import { frames } from "../core/outbound-frame.ts";
import { parseClientFrame } from "../core/room-socket-frames.ts";
import type { ThreadItem } from "../core/types.ts";
import { identityOf } from "./conversation-server.ts";
import { type Env, splitName } from "./env.ts";

export class InboxServer extends Server<Env> {
  static override options = { hibernate: true };

  override onStart(): void {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  override onConnect(ws: PartyConnection, ctx: { request: Request }): void {
    const identity = identityOf(ctx.request.headers);
    const { app, key: owner } = splitName(this.name);
    if (identity.app !== app || identity.userId !== owner) {
      // On the next turn: inside onConnect the upgrade is not complete yet.
      setTimeout(() => ws.close(CloseCode.forbidden, "you may open only your own inbox"), 0);
      return;
    }
    // A newer connection of the same client instance replaces the older one.
    if (identity.instanceId !== undefined) {
      for (const other of this.getConnections()) {
        const state = other.state as ConnectionIdentity | null;
        if (other.id !== ws.id && state?.instanceId === identity.instanceId) {
          other.close(CloseCode.replaced, "replaced by a newer connection of this client");
        }
      }
    }
    ws.setState(identity);
  }

  override onMessage(ws: PartyConnection, message: WSMessage): void {
    const frame =
      typeof message === "string" ? parseClientFrame(message) : { error: "binary frames are not supported" };
    if ("error" in frame) ws.send(frames.error("bad_frame", frame.error).text);
    else if (frame.type === "ping") ws.send(frames.pong().text);
    else ws.send(frames.error("bad_frame", "the inbox socket accepts only ping frames").text);
  }

  /** RPC from rooms: one thread changed. */
  deliver(item: ThreadItem): void {
    const text = frames.thread(item).text;
    for (const ws of this.getConnections()) {
      try {
        ws.send(text);
      } catch {
        // closing: nothing to deliver
      }
    }
  }
}
