/**
 * One conversation as a Durable Object (partyserver), hosting the runtime-free room through the
 * shared RoomActor (the same code as the PartyKit party). Hibernation is on: between messages
 * the object may be evicted, its sockets stay open, and `onStart` adopts them on the next wake.
 * `{"type":"ping"}` is answered by the runtime's auto-response without waking the object. The
 * object's alarm drives the conversation's webhook deliveries. Every call carries the object's
 * name, which a nameless wake learns from it (object-name.ts says why).
 */
import { type Connection as PartyConnection, Server, type WSMessage } from "partyserver";
import { edgeConfig } from "../edge/config.ts";
import { RoomActor } from "../edge/room-actor.ts";
import type { Env } from "./env.ts";
import { objectCalls } from "./object-calls.ts";
import { learnName, OBJECT_NAME_HEADER, OBJECT_NAME_KEY } from "./object-name.ts";

export class ConversationServer extends Server<Env> {
  static override options = { hibernate: true };
  #actor: RoomActor | undefined;
  /** Whether this instance has made sure its name is kept for its alarm (OBJECT_NAME_KEY). */
  #nameKept = false;

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

  /** The caller's name for this object, learnt when the instance has none (object-name.ts). */
  #learn(name: string): Promise<void> {
    return learnName(this.ctx.id, this.env.Conversation, name, (n) => this.setName(n));
  }

  /** Sockets and event streams, forwarded by the Worker with the object's name in a header. */
  override async fetch(request: Request): Promise<Response> {
    const name = request.headers.get(OBJECT_NAME_HEADER);
    if (name) await this.#learn(name);
    return super.fetch(request);
  }

  /**
   * A ring on a nameless instance learns the name the object kept when it set the alarm
   * (`#setAlarm`); partyserver then starts the object and calls `onAlarm`.
   */
  override async alarm(): Promise<void> {
    if (this.ctx.id.name === undefined) {
      const kept = await this.ctx.storage.get<string>(OBJECT_NAME_KEY);
      if (kept) await this.#learn(kept);
    }
    return super.alarm();
  }

  /** Webhook delivery and the room's log (after `alarm` above has made sure of the name). */
  override async onAlarm(): Promise<void> {
    const next = await this.#room.alarm();
    if (next !== undefined) await this.#setAlarm(next);
  }

  /** Sets the alarm to `at` unless it is already set sooner (an alarm that rang is unset). */
  async #setAlarm(at: number): Promise<void> {
    if (!this.#nameKept) {
      // Once per instance: a webhook wake sets an alarm without starting the object.
      if ((await this.ctx.storage.get<string>(OBJECT_NAME_KEY)) !== this.name)
        await this.ctx.storage.put(OBJECT_NAME_KEY, this.name);
      this.#nameKept = true;
    }
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** SSE subscribers, forwarded by the Worker with the verified identity. */
  override onRequest(request: Request): Promise<Response> {
    return this.#room.events(request);
  }

  /**
   * The HTTP API's calls (RoomApi over Durable Object RPC), with the object's name: the object
   * is started first, as a fetch would start it (`onStart` adopts the sockets kept through
   * hibernation). Started here rather than by partyserver's `getServerByName` in the Worker,
   * whose `setName` is one more RPC round trip on every request. `setName` with the object's own
   * name only starts it (and on a nameless instance, names it).
   */
  async api(name: string, method: string, args: unknown[]) {
    await this.#learn(name);
    await this.setName(name);
    return this.#room.call(method, args);
  }

  /**
   * Host-level calls that must not start the object (party/cloudflare/object-calls.ts): an
   * inbox's `listen` / `unlisten`, a webhook wake. A nameless instance is started by learning
   * its name: rare (local workerd only), and cheaper than a room without one.
   */
  async rpc(name: string, method: string, args: unknown[]) {
    await this.#learn(name);
    return this.#room.call(method, args);
  }
}
