/**
 * A user's inbox as a Durable Object: their live thread list, through the shared InboxActor.
 * Rooms call `deliver` after each change; with hibernation on, an inbox nobody listens to costs
 * nothing, and `onStart` adopts the sockets kept through a hibernation.
 */
import { type Connection as PartyConnection, Server, type WSMessage } from "partyserver";
import { edgeConfig } from "../edge/config.ts";
import { InboxActor } from "../edge/inbox-actor.ts";
import type { Env } from "./env.ts";

export class InboxServer extends Server<Env> {
  static override options = { hibernate: true };
  #actor: InboxActor | undefined;

  get #inbox(): InboxActor {
    this.#actor ??= new InboxActor(this.name, () => edgeConfig(this.env));
    return this.#actor;
  }

  override onStart(): void {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    this.#inbox.start(this.getConnections());
  }

  override onConnect(ws: PartyConnection, ctx: { request: Request }): void {
    this.#inbox.connect(ws, ctx.request, (identity) => ws.setState(identity));
  }

  override onMessage(ws: PartyConnection, message: WSMessage): void {
    this.#inbox.message(ws, message);
  }

  override onClose(ws: PartyConnection): void {
    this.#inbox.forget(ws);
  }

  override onError(ws: PartyConnection): void {
    this.#inbox.forget(ws);
  }

  /** RPC from rooms: one thread changed (its `thread` frame, encoded by the room). */
  deliver(frameText: string): void {
    this.#inbox.deliver(frameText);
  }
}
