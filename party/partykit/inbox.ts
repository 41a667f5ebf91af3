/**
 * A user's inbox as a PartyKit party, through the shared InboxActor. Internal requests: the
 * main party's `prepare` before it forwards a socket, and rooms delivering one changed thread.
 */
import type * as Party from "partykit/server";
import { edgeConfig } from "../edge/config.ts";
import { InboxActor } from "../edge/inbox-actor.ts";
import {
  answerClose,
  beforeConnect,
  INBOX_CALL_HEADER,
  internalOnly,
  isInternal,
  partykitActors,
} from "./actors.ts";

export default class InboxParty implements Party.Server {
  readonly options: Party.ServerOptions = { hibernate: true };
  readonly #inbox: InboxActor;

  constructor(readonly room: Party.Room) {
    this.#inbox = new InboxActor(room.id, () => edgeConfig(room.env), {
      // Which rooms it registered with is kept in the party's own storage (see actor-storage.ts).
      storage: room.storage,
      kept: () => room.getConnections(),
      tellRoom: (app, conversationId, method, userId) =>
        partykitActors(room.context.parties, room.env).tellRoom(app, conversationId, method, userId),
    });
  }

  onStart() {
    this.#inbox.start();
  }

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    this.#inbox.connect(conn, ctx.request as unknown as Request, (identity) => conn.setState(identity));
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection) {
    this.#inbox.message(sender, message);
  }

  onClose(conn: Party.Connection) {
    this.#inbox.forget(conn);
    answerClose(conn);
  }

  onError(conn: Party.Connection) {
    this.#inbox.forget(conn);
  }

  /** Internal only: `prepare` (204 once registered) or `deliver <conversationId>` (whether it listens). */
  async onRequest(req: Party.Request) {
    const request = req as unknown as Request;
    if (!isInternal(request, this.room.env)) return new Response("Not Found", { status: 404 });
    const call = request.headers.get(INBOX_CALL_HEADER) ?? "";
    if (call === "prepare") {
      await this.#inbox.prepare();
      return new Response(null, { status: 204 });
    }
    if (call.startsWith("deliver ")) {
      const listening = await this.#inbox.deliver(call.slice("deliver ".length), await request.text());
      return Response.json({ listening });
    }
    return new Response("Bad Request", { status: 400 });
  }

  static onBeforeConnect = beforeConnect;
  static onBeforeRequest = internalOnly;
}
