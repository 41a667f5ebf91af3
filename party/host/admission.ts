/**
 * Socket admission, the same on every runtime: which party a path names, whether the browser
 * origin may connect, whose token it is, where the replay starts, and whether that user may
 * join. Refusals of a WebSocket are decided here, before any actor sees the socket, and are
 * delivered by completing the upgrade and closing with the contract's code: browsers can read
 * a close code, not an HTTP status.
 */
import { CloseCode, isParleyError } from "../core/errors.ts";
import { CONVERSATION_ID, USER_ID } from "../core/validation.ts";
import type { Authenticator, UserPrincipal } from "./auth.ts";
import { type OriginPolicy, originAllowed } from "./origins.ts";
import type { Admission } from "./room-api.ts";

/** A party path: `valid` is false for a name no conversation or user can have. */
export type SocketRoute =
  | { kind: "conversation"; id: string; valid: boolean }
  | { kind: "inbox"; userId: string; valid: boolean };

/**
 * `/parties/conversation/<id>` or `/parties/inbox/<userId>`; null for any other path. A name
 * that cannot be an id still routes: the socket is then refused with a close code (4004,
 * 4003), which a browser can read, instead of an HTTP status, which it cannot.
 */
export function socketRouteOf(pathname: string): SocketRoute | null {
  const match = /^\/parties\/(conversation|inbox)\/([^/]+)\/?$/.exec(pathname);
  if (!match?.[2]) return null;
  let name = match[2];
  let decoded = true;
  try {
    name = decodeURIComponent(name);
  } catch {
    decoded = false;
  }
  if (match[1] === "conversation") {
    return { kind: "conversation", id: name, valid: decoded && CONVERSATION_ID.test(name) };
  }
  return { kind: "inbox", userId: name, valid: decoded && USER_ID.test(name) };
}

/** What admission decided for one upgrade request. */
export type SocketAdmission =
  /** Not a party path, or a refusal that must stay an HTTP answer (no upgrade, foreign origin). */
  | { kind: "http"; status: 403 | 404 | 426; text: string }
  /** Accept the upgrade only to close it at once with `code`. */
  | { kind: "refuse"; code: number; reason: string }
  | {
      kind: "conversation";
      user: UserPrincipal;
      conversationId: string;
      after: number | undefined;
      instanceId: string | undefined;
    }
  | { kind: "inbox"; user: UserPrincipal; owner: string; instanceId: string | undefined };

export interface AdmissionDeps {
  auth: Authenticator;
  origins: OriginPolicy;
  /** Whether the user may join the conversation: the room's answer (loaded in this process, or over RPC). */
  membership(
    app: string,
    conversationId: string,
    userId: string,
  ): Admission | "shutting_down" | Promise<Admission | "shutting_down">;
  /** True when the user has used up their inbound budget: refused (4008) before anything else. */
  exhausted?(app: string, userId: string): boolean;
}

/** The parts of an upgrade request that admission reads. */
export interface UpgradeRequest {
  url: URL;
  /** The `Origin` header. */
  origin: string | null | undefined;
  /** The `Host` header. */
  host: string | null | undefined;
  /** False when the request does not ask for a WebSocket. */
  upgrade: boolean;
}

const refuse = (code: number, reason: string): SocketAdmission => ({ kind: "refuse", code, reason });

/** Decides one socket upgrade. Never throws for anything a client sent; store failures propagate. */
export async function admitSocket(request: UpgradeRequest, deps: AdmissionDeps): Promise<SocketAdmission> {
  const route = socketRouteOf(request.url.pathname);
  if (!route) return { kind: "http", status: 404, text: "Not Found" };
  if (!request.upgrade) return { kind: "http", status: 426, text: "Upgrade Required" };
  if (!originAllowed(request.origin, deps.origins, request.host))
    return { kind: "http", status: 403, text: "Forbidden" };
  const query = request.url.searchParams;
  const token = query.get("token");
  if (!token) return refuse(CloseCode.unauthorized, "missing token query parameter");
  let user: UserPrincipal;
  try {
    // Not kept in the token cache: a socket brings its token once (see verifyUserToken).
    user = await deps.auth.verifyUserToken(token, { remember: false });
  } catch (error) {
    // The Authenticator's refusals are fixed sentences: none echoes what the token claims.
    return refuse(CloseCode.unauthorized, isParleyError(error) ? error.message : "the token was refused");
  }
  if (deps.exhausted?.(user.app, user.userId))
    return refuse(CloseCode.tooSlowOrFast, "too many bytes; slow down and reconnect");
  const instanceId = query.get("_pk") ?? undefined;
  if (route.kind === "inbox") {
    // A user id that is not valid is nobody's: refused as someone else's inbox.
    if (!route.valid || route.userId !== user.userId)
      return refuse(CloseCode.forbidden, "you may open only your own inbox");
    return { kind: "inbox", user, owner: route.userId, instanceId };
  }
  if (!route.valid) return refuse(CloseCode.notFound, "no such conversation");
  const rawAfter = query.get("after");
  if (rawAfter !== null && rawAfter !== "" && !/^\d{1,15}$/.test(rawAfter))
    return refuse(CloseCode.policyViolation, "after must be a non-negative integer");
  // Answered at once when the room is loaded (every socket of a storm but the first per room).
  const answer = deps.membership(user.app, route.id, user.userId);
  const membership = answer instanceof Promise ? await answer : answer;
  if (membership === "not_found") return refuse(CloseCode.notFound, "no such conversation");
  if (membership === "forbidden") return refuse(CloseCode.forbidden, "not a member of this conversation");
  if (membership === "shutting_down") return refuse(CloseCode.goingAway, "the relay is shutting down");
  const after = rawAfter ? Number(rawAfter) : undefined;
  return { kind: "conversation", user, conversationId: route.id, after, instanceId };
}
