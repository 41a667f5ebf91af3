/**
 * A user's inbox as a Durable Object: their live thread list, through the shared InboxActor.
 * Rooms call `deliver` only while the inbox is registered with them as listening (it registers
 * in `prepare`, which the Worker awaits before forwarding a socket, and unregisters after its
 * last socket closed), so an inbox nobody listens to is not woken by commits. With hibernation
 * on, the sockets it kept are adopted on its next wake, whichever call wakes it. Every call
 * carries the object's name, which a nameless instance learns from it (object-name.ts says why;
 * an inbox sets no alarm, but any call may reach an instance that an earlier wake left nameless).
 */
import { type Connection as PartyConnection, Server, type WSMessage } from "partyserver";
import { edgeConfig } from "../edge/config.ts";
import { InboxActor } from "../edge/inbox-actor.ts";
import type { Env } from "./env.ts";
import { objectCalls } from "./object-calls.ts";
import { learnName, OBJECT_NAME_HEADER } from "./object-name.ts";

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

  /** The caller's name for this object, learnt when the instance has none (object-name.ts). */
  #learn(name: string): Promise<void> {
    return learnName(this.ctx.id, this.env.Inbox, name, (n) => this.setName(n));
  }

  /** Sockets, forwarded by the Worker with the object's name in a header. */
  override async fetch(request: Request): Promise<Response> {
    const name = request.headers.get(OBJECT_NAME_HEADER);
    if (name) await this.#learn(name);
    return super.fetch(request);
  }

  /** RPC from the Worker: register with the user's rooms before a socket is forwarded. */
  async prepare(name: string): Promise<void> {
    await this.#learn(name);
    return this.#inbox.prepare();
  }

  /** RPC from rooms: one thread changed (its `thread` frame, encoded by the room); true while listening. */
  async deliver(name: string, conversationId: string, frameText: string): Promise<boolean> {
    await this.#learn(name);
    return this.#inbox.deliver(conversationId, frameText);
  }
}
