/**
 * `GET /v1/conversations/:id/log`: the conversation's log above `after`, messages and changes,
 * each entry exactly as its socket frame with the message in its latest state, with long-poll
 * `wait` as history has. What gap fill, long-poll clients and back ends read.
 */
import { Hono } from "hono";
import { ParleyError } from "../../party/core/errors.ts";
import { jsonReleasing } from "../bounded-reads.ts";
import { type ApiEnv, conversationIdOf, intQuery, principalOf, waitMsOf } from "../context.ts";
import { peopleOfLog, withUsers } from "../users.ts";

export const logRoutes = new Hono<ApiEnv>().get("/:id/log", async (c) => {
  const token = c.req.query("token");
  const principal = token ? await c.get("deps").auth.verifyUserToken(token) : await principalOf(c);
  const room = await c.get("deps").directory.room(principal.app, conversationIdOf(c));
  const after = intQuery(c, "after") ?? 0;
  const limit = Math.min(Math.max(intQuery(c, "limit") ?? 100, 1), 500);
  const waitMs = waitMsOf(c);
  if (principal.kind === "server") {
    const page = await room.logPage({ server: true }, { after, limit });
    return c.json(await withUsers(c, principal.app, page, peopleOfLog(page.entries)));
  }
  // A held long-poll is an open connection like a socket: it counts against the user's cap.
  const releaseConnection =
    waitMs > 0 ? c.get("deps").acquireConnection?.(principal.app, principal.userId) : undefined;
  if (releaseConnection === null)
    throw new ParleyError("rate_limited", "too many open connections for this user", 5);
  // A client that gives up is no longer held: its slot is free at once (the release is once only).
  const signal = c.req.raw.signal;
  if (releaseConnection) signal.addEventListener("abort", releaseConnection, { once: true });
  let page: Awaited<ReturnType<typeof room.logPage>>;
  try {
    page = await room.logPage({ userId: principal.userId }, { after, limit, waitMs, signal });
  } finally {
    releaseConnection?.();
  }
  const body = await withUsers(c, principal.app, page, peopleOfLog(page.entries));
  return jsonReleasing(c, body, c.get("reads").acquire(principal.app, principal.userId));
});
