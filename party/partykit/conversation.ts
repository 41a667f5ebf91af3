/**
 * One conversation as a PartyKit party, hosting the runtime-free room through the shared
 * RoomActor (the same code as the Durable Object on Cloudflare). Hibernation is on.
 */
import type * as Party from "partykit/server";
import { edgeConfig } from "../edge/config.ts";
import { RoomActor } from "../edge/room-actor.ts";
import { beforeConnect, internalOnly, isInternal, partykitActors } from "./actors.ts";

export default class ConversationParty implements Party.Server {
  readonly options: Party.ServerOptions = { hibernate: true };
  readonly #room: RoomActor;

  constructor(readonly room: Party.Room) {
    this.#room = new RoomActor(room.id, () => edgeConfig(room.env), {
      // Which members' inboxes listen is kept in the party's own storage (see actor-storage.ts).
      storage: room.storage,
      deliverToInbox: (app, userId, conversationId, frameText) =>
        partykitActors(room.context.parties, room.env).deliverToInbox(app, userId, conversationId, frameText),
    });
  }

  onStart() {
    return this.#room.start(this.room.getConnections());
  }

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    return this.#room.connect(conn, ctx.request as unknown as Request, (identity) => conn.setState(identity));
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection) {
    return this.#room.message(sender, message);
  }

  onClose(conn: Party.Connection) {
    this.#room.forget(conn);
  }

  onError(conn: Party.Connection) {
    this.#room.forget(conn);
  }

  /** Internal only: RPC from the API and from inboxes (`x-parley-rpc`), and SSE subscribers. */
  async onRequest(req: Party.Request) {
    const request = req as unknown as Request;
    if (!isInternal(request, this.room.env)) return new Response("Not Found", { status: 404 });
    if (request.headers.get("x-parley-rpc") === "1") {
      const { method, args } = (await request.json()) as { method: string; args: unknown[] };
      return Response.json(await this.#room.call(method, args));
    }
    return this.#room.events(request);
  }

  static onBeforeConnect = beforeConnect;
  static onBeforeRequest = internalOnly;
}
