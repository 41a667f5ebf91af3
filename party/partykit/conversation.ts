/**
 * One conversation as a PartyKit party, hosting the runtime-free room through the shared
 * RoomHost (the same code as the Durable Object on Cloudflare). Hibernation is on.
 */
import type * as Party from "partykit/server";
import { edgeConfig } from "../edge/config.ts";
import type { RoomMethod } from "../edge/room-host.ts";
import { RoomHost } from "../edge/room-host.ts";
import { beforeConnect, internalOnly, isInternal, partykitActors } from "./actors.ts";

export default class ConversationParty implements Party.Server {
  readonly options: Party.ServerOptions = { hibernate: true };
  readonly #host: RoomHost;

  constructor(readonly room: Party.Room) {
    const actors = () => partykitActors(room.context.parties, room.env);
    this.#host = new RoomHost(
      room.id,
      () => edgeConfig(room.env),
      (app, userId, item) => {
        actors()
          .deliverToInbox(app, userId, item)
          .catch((e: unknown) => console.error("parley: inbox delivery", e));
      },
    );
  }

  onStart() {
    return this.#host.start(this.room.getConnections());
  }

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    return this.#host.connect(conn, ctx.request as unknown as Request, (identity) => conn.setState(identity));
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection) {
    return this.#host.message(sender, message);
  }

  onClose(conn: Party.Connection) {
    this.#host.forget(conn);
  }

  onError(conn: Party.Connection) {
    this.#host.forget(conn);
  }

  /** Internal only: RPC from the API (`x-parley-rpc`) and SSE subscribers. */
  async onRequest(req: Party.Request) {
    const request = req as unknown as Request;
    if (!isInternal(request, this.room.env)) return new Response("Not Found", { status: 404 });
    if (request.headers.get("x-parley-rpc") === "1") {
      const { method, args } = (await request.json()) as { method: RoomMethod; args: unknown[] };
      return Response.json(await this.#host.call(method, args));
    }
    return this.#host.events(request);
  }

  static onBeforeConnect = beforeConnect;
  static onBeforeRequest = internalOnly;
}
