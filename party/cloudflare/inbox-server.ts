/**
 * A user's inbox as a Durable Object: their live thread list. Rooms call `deliver` after each
 * change; with hibernation on, an inbox nobody listens to costs nothing.
 */
import { type Connection as PartyConnection, Server, type WSMessage } from "partyserver";
import type { ThreadItem } from "../core/types.ts";
import { inboxConnect, inboxDeliver, inboxMessage } from "../edge/inbox-host.ts";
import type { Env } from "./env.ts";

export class InboxServer extends Server<Env> {
  static override options = { hibernate: true };

  override onStart(): void {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  override onConnect(ws: PartyConnection, ctx: { request: Request }): void {
    inboxConnect(this.name, ws, ctx.request, this.getConnections(), (identity) => ws.setState(identity));
  }

  override onMessage(ws: PartyConnection, message: WSMessage): void {
    inboxMessage(ws, message);
  }

  /** RPC from rooms: one thread changed. */
  deliver(item: ThreadItem): void {
    inboxDeliver(this.getConnections(), item);
  }
}
