/**
 * One conversation as a Durable Object (partyserver), hosting the runtime-free room through the
 * shared RoomActor (the same code as the PartyKit party). Hibernation is on: between messages
 * the object may be evicted, its sockets stay open, and `onStart` adopts them on the next wake.
 * `{"type":"ping"}` is answered by the runtime's auto-response without waking the object. The
 * object's alarm drives the conversation's webhook deliveries.
 */
import { type Connection as PartyConnection, Server, type WSMessage } from "partyserver";
import { edgeConfig } from "../edge/config.ts";
import { RoomActor } from "../edge/room-actor.ts";
import type { Env } from "./env.ts";
import { objectCalls } from "./object-calls.ts";

export class ConversationServer extends Server<Env> {
  static override options = { hibernate: true };
  #actor: RoomActor | undefined;

  get #room(): RoomActor {
    this.#actor ??= new RoomActor(this.name, () => edgeConfig(this.env), {
      // Which members' inboxes listen is kept in the object's own storage (see actor-storage.ts).
      storage: this.ctx.storage,
      deliverToInbox: objectCalls(this.env).deliverToInbox,
      setAlarm: (at) => this.#setAlarm(at),
    });
    return this.#actor;
  }

  override async onStart(): Promise<void> {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    await this.#room.start(this.getConnections());
  }

  override onConnect(ws: PartyConnection, ctx: { request: Request }): Promise<void> {
    return this.#room.connect(ws, ctx.request, (identity) => ws.setState(identity));
  }

  override onMessage(ws: PartyConnection, message: WSMessage): Promise<void> {
    return this.#room.message(ws, message);
  }

  override onClose(ws: PartyConnection): void {
    this.#room.forget(ws);
  }

  override onError(ws: PartyConnection): void {
    this.#room.forget(ws);
  }

  /** Webhook delivery (partyserver restores the object's name before it calls this). */
  override async onAlarm(): Promise<void> {
    const next = await this.#room.alarm();
    if (next !== undefined) await this.#setAlarm(next);
  }

  /** Sets the alarm to `at` unless it is already set sooner (an alarm that rang is unset). */
  async #setAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** SSE subscribers, forwarded by the Worker with the verified identity. */
  override onRequest(request: Request): Promise<Response> {
    return this.#room.events(request);
  }

  /**
   * The HTTP API's calls (RoomApi over Durable Object RPC): the object is started first, as a
   * fetch would start it (`onStart` adopts the sockets kept through hibernation). Started here
   * rather than by partyserver's `getServerByName` in the Worker, whose `setName` is one more
   * RPC round trip on every request. `setName` with the object's own name only starts it.
   */
  async api(method: string, args: unknown[]) {
    await this.setName(this.name);
    return this.#room.call(method, args);
  }

  /**
   * Host-level calls that must not start the object (party/cloudflare/object-calls.ts): an
   * inbox's `listen` / `unlisten`, a webhook wake.
   */
  rpc(method: string, args: unknown[]) {
    return this.#room.call(method, args);
  }
}
