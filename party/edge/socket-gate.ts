/**
 * The front door of a workerd runtime for sockets: shared admission (host/admission.ts) decides
 * before the upgrade reaches an actor (a socket closed inside an actor's onConnect never
 * completes its close handshake on workerd), then the socket is forwarded to its actor with
 * the verified identity.
 */

import { requestIdOf } from "../core/log.ts";
import { type Actors, actorAdmission } from "../host/actor-directory.ts";
import { admitSocket } from "../host/admission.ts";
import { closeReason } from "../host/close-reason.ts";
import { withIdentity } from "../host/forwarded-identity.ts";
import type { EdgeConfig } from "./config.ts";
import { edgeLog } from "./log.ts";

/**
 * Accepts the socket only to close it with a contract code (browsers cannot read HTTP
 * statuses). `WebSocketPair` is workerd's: this is the one part of admission that differs.
 */
export function refuseSocket(code: number, reason: string): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  server.close(code, closeReason(reason));
  return new Response(null, { status: 101, webSocket: client });
}

/** Handles `/parties/conversation/<id>` and `/parties/inbox/<userId>`; null for other paths. */
export async function gateSocket(
  request: Request,
  config: EdgeConfig,
  actors: Pick<Actors, "room" | "inbox" | "prepareInbox">,
): Promise<Response | null> {
  const url = new URL(request.url);
  const decision = await admitSocket(
    {
      url,
      origin: request.headers.get("origin"),
      host: url.host,
      upgrade: request.headers.get("upgrade")?.toLowerCase() === "websocket",
    },
    {
      auth: config.auth,
      origins: config.origins,
      membership: async (app, id, userId) => actorAdmission(await actors.room(app, id), userId),
    },
  );
  // Never the URL itself: its query string holds the token.
  const line = {
    reqId: requestIdOf(request.headers.get("x-request-id")),
    route: url.pathname.startsWith("/parties/inbox/")
      ? "/parties/inbox/:userId"
      : "/parties/conversation/:id",
  };
  switch (decision.kind) {
    case "http":
      if (decision.status === 404) return null;
      edgeLog.info({ ...line, status: decision.status }, "socket upgrade refused");
      return new Response(decision.text, {
        status: decision.status,
        headers: { "X-Request-Id": line.reqId },
      });
    case "refuse":
      edgeLog.info({ ...line, status: 101, code: String(decision.code) }, "socket refused");
      return refuseSocket(decision.code, decision.reason);
    case "inbox":
      edgeLog.info(
        { ...line, app: decision.user.app, userId: decision.user.userId, status: 101 },
        "socket opened",
      );
      // The inbox registers with the user's rooms before the socket is forwarded, so the client
      // sees `open` only once every commit from then on reaches it. Should that fail, the socket
      // still opens and the inbox tries again on its own.
      await actors
        .prepareInbox(decision.user.app, decision.owner)
        .catch((e: unknown) =>
          edgeLog.error(
            { ...line, app: decision.user.app, userId: decision.user.userId, err: e },
            "inbox registration failed",
          ),
        );
      return actors.inbox(
        decision.user.app,
        decision.owner,
        withIdentity(request, decision.user, decision.instanceId, undefined),
      );
    case "conversation": {
      const { app, userId } = decision.user;
      edgeLog.info(
        { ...line, app, userId, conversationId: decision.conversationId, status: 101 },
        "socket opened",
      );
      const room = await actors.room(decision.user.app, decision.conversationId);
      return room.fetch(withIdentity(request, decision.user, decision.instanceId, decision.after));
    }
  }
}
