/**
 * The verified identity a front door (the Worker, PartyKit's main party) puts on a request it
 * forwards to an actor, after checking the token. The headers are stripped from every client
 * request first, so an actor can trust them.
 */
import type { ConnectionIdentity } from "../core/connection.ts";
import { ParleyError } from "../core/errors.ts";
import type { UserPrincipal } from "./auth.ts";

export const IDENTITY_HEADERS = {
  app: "x-parley-app",
  user: "x-parley-user",
  instance: "x-parley-instance",
  /** The resume point, also as a header: PartyKit's stubs do not keep the query string. */
  after: "x-parley-after",
} as const;

/** A copy of a client's request carrying the verified identity (and nothing a client claimed). */
export function withIdentity(
  request: Request,
  user: UserPrincipal,
  instanceId: string | undefined,
  after: number | undefined,
): Request {
  const headers = new Headers(request.headers);
  for (const header of Object.values(IDENTITY_HEADERS)) headers.delete(header);
  headers.set(IDENTITY_HEADERS.app, user.app);
  headers.set(IDENTITY_HEADERS.user, user.userId);
  if (instanceId) headers.set(IDENTITY_HEADERS.instance, instanceId);
  if (after !== undefined) headers.set(IDENTITY_HEADERS.after, String(after));
  return new Request(request, { headers });
}

/** The verified identity on a forwarded request; 401 if it did not come through the front door. */
export function identityOf(headers: Headers): ConnectionIdentity {
  const app = headers.get(IDENTITY_HEADERS.app);
  const userId = headers.get(IDENTITY_HEADERS.user);
  if (!app || !userId)
    throw new ParleyError("unauthorized", "request did not come through the Parley worker");
  return { app, userId, instanceId: headers.get(IDENTITY_HEADERS.instance) ?? undefined };
}

/** `after` of a forwarded request: the front door's header, else the query string. */
export function resumePointOf(request: Request): number | undefined {
  const raw = request.headers.get(IDENTITY_HEADERS.after) ?? new URL(request.url).searchParams.get("after");
  return raw ? Number(raw) : undefined;
}
