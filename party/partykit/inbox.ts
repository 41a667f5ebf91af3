/** A user's inbox as a PartyKit party, through the shared InboxActor. Rooms POST thread items here. */
import type * as Party from "partykit/server";
import { edgeConfig } from "../edge/config.ts";
import { InboxActor } from "../edge/inbox-actor.ts";
import { beforeConnect, internalOnly, isInternal } from "./actors.ts";

export default class InboxParty implements Party.Server {
  readonly options: Party.ServerOptions = { hibernate: true };
  readonly #inbox: InboxActor;

  constructor(readonly room: Party.Room) {
    this.#inbox = new InboxActor(room.id, () => edgeConfig(room.env));
  }

  onStart() {
    this.#inbox.start(this.room.getConnections());
  }

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    this.#inbox.connect(conn, ctx.request as unknown as Request, (identity) => conn.setState(identity));
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection) {
    this.#inbox.message(sender, message);
  }

  onClose(conn: Party.Connection) {
    this.#inbox.forget(conn);
  }

  onError(conn: Party.Connection) {
    this.#inbox.forget(conn);
  }

  /** Internal only: a room delivering one changed thread. */
  async onRequest(req: Party.Request) {
    const request = req as unknown as Request;
    if (!isInternal(request, this.room.env)) return new Response("Not Found", { status: 404 });
    this.#inbox.deliver(await request.text());
    return new Response(null, { status: 204 });
  }

  static onBeforeConnect = beforeConnect;
  static onBeforeRequest = internalOnly;
}
