/**
 * A user's inbox as a Durable Object: their live thread list, through the shared InboxActor.
 * Rooms call `deliver` only while the inbox is registered with them as listening (it registers
 * in `prepare`, which the Worker awaits before forwarding a socket, and unregisters after its
 * last socket closed), so an inbox nobody listens to is not woken by commits. With hibernation
 * on, the sockets it kept are adopted on its next wake, whichever call wakes it.
 */
import { type Connection as PartyConnection, Server, type WSMessage } from "partyserver";
import { edgeConfig } from "../edge/config.ts";
import { InboxActor } from "../edge/inbox-actor.ts";
import type { Env } from "./env.ts";
import { objectCalls } from "./object-calls.ts";

export class InboxServer extends Server<Env> {
  static override options = { hibernate: true };
  #actor: InboxActor | undefined;

  get #inbox(): InboxActor {
    this.#actor ??= new InboxActor(this.name, () => edgeConfig(this.env), {
      // Which rooms it registered with is kept in the object's own storage (see actor-storage.ts).
      storage: this.ctx.storage,
      // RPC calls do not pass through partyserver's start: the inbox adopts its kept sockets itself.
      kept: () => this.getConnections(),
      tellRoom: objectCalls(this.env).tellRoom,
    });
    return this.#actor;
  }

  override onStart(): void {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    this.#inbox.start();
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

  /** RPC from the Worker: register with the user's rooms before a socket is forwarded. */
  prepare(): Promise<void> {
    return this.#inbox.prepare();
  }

  /** RPC from rooms: one thread changed (its `thread` frame, encoded by the room); true while listening. */
  deliver(conversationId: string, frameText: string): Promise<boolean> {
    return this.#inbox.deliver(conversationId, frameText);
  }
}
