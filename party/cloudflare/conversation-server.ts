/**
 * One conversation as a Durable Object (partyserver `Server`), hosting the runtime-free room
 * through the shared RoomHost. Hibernation is on: each socket's identity lives in its attachment,
 * the room is rebuilt from libSQL when the object wakes, and `{"type":"ping"}` is answered by
 * the runtime without waking it.
 */
import { type Connection as PartyConnection, Server, type WSMessage } from "partyserver";
import type { ThreadItem } from "../core/types.ts";
import { edgeConfig, inboxName } from "../edge/config.ts";
import { RoomHost, type RoomMethod } from "../edge/room-host.ts";
import type { Env } from "./env.ts";

export class ConversationServer extends Server<Env> {
  static override options = { hibernate: true };
  #roomHost: RoomHost | undefined;

  get #host(): RoomHost {
    this.#roomHost ??= new RoomHost(
      this.name,
      () => edgeConfig(this.env),
      (app: string, userId: string, item: ThreadItem) => {
        const inbox = this.env.Inbox.get(this.env.Inbox.idFromName(inboxName(app, userId)));
        this.ctx.waitUntil(
          inbox.deliver(item).catch((e: unknown) => console.error("parley: inbox delivery", e)),
        );
      },
    );
    return this.#roomHost;
  }

  override async onStart(): Promise<void> {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    await this.#host.start(this.getConnections());
  }

  override onConnect(ws: PartyConnection, ctx: { request: Request }): Promise<void> {
    return this.#host.connect(ws, ctx.request, (identity) => ws.setState(identity));
  }

  override onMessage(ws: PartyConnection, message: WSMessage): Promise<void> {
    return this.#host.message(ws, message);
  }

  override onClose(ws: PartyConnection): void {
    this.#host.forget(ws);
  }

  override onError(ws: PartyConnection): void {
    this.#host.forget(ws);
  }

  /** SSE subscribers, forwarded by the Worker with the verified identity. */
  override onRequest(request: Request): Promise<Response> {
    return this.#host.events(request);
  }

  /** The HTTP API's calls (RoomApi over Durable Object RPC). */
  rpc(method: RoomMethod, args: unknown[]) {
    return this.#host.call(method, args);
  }
}
