/** A user's inbox as a PartyKit party: their live thread list. Rooms POST thread items here. */
import type * as Party from "partykit/server";
import type { ThreadItem } from "../core/types.ts";
import { inboxConnect, inboxDeliver, inboxMessage } from "../edge/inbox-host.ts";
import { beforeConnect, internalOnly, isInternal } from "./actors.ts";

export default class InboxParty implements Party.Server {
  readonly options: Party.ServerOptions = { hibernate: true };

  constructor(readonly room: Party.Room) {}

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    inboxConnect(
      this.room.id,
      conn,
      ctx.request as unknown as Request,
      this.room.getConnections(),
      (identity) => conn.setState(identity),
    );
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection) {
    inboxMessage(sender, message);
  }

  /** Internal only: a room delivering one changed thread. */
  async onRequest(req: Party.Request) {
    const request = req as unknown as Request;
    if (!isInternal(request, this.room.env)) return new Response("Not Found", { status: 404 });
    inboxDeliver(this.room.getConnections(), (await request.json()) as ThreadItem);
    return new Response(null, { status: 204 });
  }

  static onBeforeConnect = beforeConnect;
  static onBeforeRequest = internalOnly;
}
