/**
 * The edge Worker's side of a socket: verify the token, decide refusals before the upgrade
 * reaches an actor (a socket closed inside an actor's onConnect never completes its close
 * handshake on workerd), then forward it with the verified identity.
 */
import { originAllowed } from "../../api/origins.ts";
import { CloseCode, isParleyError } from "../core/errors.ts";
import { conversationIdSchema, userIdSchema } from "../core/validation.ts";
import { fromWire } from "../core/wire-errors.ts";
import { type EdgeConfig, IDENTITY_HEADERS } from "./config.ts";
import type { EdgeActors } from "./edge-directory.ts";

/** Accepts the socket only to close it with a contract code (browsers cannot read HTTP statuses). */
export function refuseSocket(code: number, reason: string): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  server.close(code, reason.slice(0, 120));
  return new Response(null, { status: 101, webSocket: client });
}

export interface SocketForwarding extends Pick<EdgeActors, "room"> {
  /** Forwards an inbox socket to the user's inbox actor. */
  inbox(app: string, userId: string, request: Request): Promise<Response>;
}

/** Handles `/parties/conversation/<id>` and `/parties/inbox/<userId>`; null for other paths. */
export async function gateSocket(
  request: Request,
  config: EdgeConfig,
  actors: SocketForwarding,
): Promise<Response | null> {
  const url = new URL(request.url);
  const match = /^\/parties\/(conversation|inbox)\/([^/]+)\/?$/.exec(url.pathname);
  if (!match) return null;
  const kind = match[1];
  let name = match[2] ?? "";
  let decoded = true;
  try {
    name = decodeURIComponent(name);
  } catch {
    decoded = false;
  }
  // A name that cannot be an id is refused after the token check, with the close code a
  // browser can read (4004; an inbox that is not the user's own: 4003), not an HTTP status.
  const valid =
    decoded &&
    (kind === "conversation"
      ? conversationIdSchema.safeParse(name).success
      : userIdSchema.safeParse(name).success);
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket")
    return new Response("Upgrade Required", { status: 426 });
  if (!originAllowed(request.headers.get("origin"), config.origins, url.host))
    return new Response("Forbidden", { status: 403 });
  const token = url.searchParams.get("token");
  if (!token) return refuseSocket(CloseCode.unauthorized, "missing token query parameter");
  let user: Awaited<ReturnType<EdgeConfig["auth"]["verifyUserToken"]>>;
  try {
    user = await config.auth.verifyUserToken(token);
  } catch (error) {
    return refuseSocket(CloseCode.unauthorized, isParleyError(error) ? error.message : "bad token");
  }
  const after = url.searchParams.get("after");
  if (after !== null && after !== "" && !/^\d{1,15}$/.test(after))
    return refuseSocket(1008, "after must be a non-negative integer");
  const headers = new Headers(request.headers);
  for (const header of Object.values(IDENTITY_HEADERS)) headers.delete(header);
  headers.set(IDENTITY_HEADERS.app, user.app);
  headers.set(IDENTITY_HEADERS.user, user.userId);
  const instance = url.searchParams.get("_pk");
  if (instance) headers.set(IDENTITY_HEADERS.instance, instance);
  if (after) headers.set(IDENTITY_HEADERS.after, after);
  const forwarded = new Request(request, { headers });
  if (kind === "inbox") {
    if (name !== user.userId) return refuseSocket(CloseCode.forbidden, "you may open only your own inbox");
    return actors.inbox(user.app, name, forwarded);
  }
  if (!valid) return refuseSocket(CloseCode.notFound, "no such conversation");
  const room = await actors.room(user.app, name);
  const admission = fromWire(await room.call("admission", [user.userId]));
  if (admission === "not_found") return refuseSocket(CloseCode.notFound, "no such conversation");
  if (admission === "forbidden")
    return refuseSocket(CloseCode.forbidden, "not a member of this conversation");
  return room.fetch(forwarded);
}
