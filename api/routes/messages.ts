/** Sending, history (with long-poll) and the SSE stream of one conversation. */
import { Hono } from "hono";
import { ParleyError } from "../../party/core/errors.ts";
import { parseOrThrow, sendInputSchema, userIdSchema } from "../../party/core/validation.ts";
import { jsonReleasing } from "../bounded-reads.ts";
import {
  type ApiEnv,
  conversationIdOf,
  intQuery,
  jsonBody,
  principalOf,
  requireMember,
  userFromQueryOrHeader,
  waitMsOf,
} from "../context.ts";
import { lastEventIdSchema } from "../params.ts";
import { sendersOf, withUsers } from "../users.ts";

/** Splits the server key's `senderId` from the message fields. */
function splitSender(body: unknown): { senderId: unknown; rest: unknown } {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    return { senderId: undefined, rest: body };
  const { senderId, ...rest } = body as Record<string, unknown>;
  return { senderId, rest };
}

export const messageRoutes = new Hono<ApiEnv>()
  .post("/:id/messages", async (c) => {
    const principal = await principalOf(c);
    const room = await c.get("deps").directory.room(principal.app, conversationIdOf(c));
    const { senderId: claimed, rest } = splitSender(await jsonBody(c, principal));
    let senderId: string;
    if (principal.kind === "server") {
      if (claimed === undefined)
        throw new ParleyError("bad_request", "with the server key, the body needs senderId");
      senderId = parseOrThrow(userIdSchema, claimed, "senderId");
    } else {
      if (claimed !== undefined && claimed !== principal.userId) {
        throw new ParleyError("forbidden", "a user token may send only as its own user");
      }
      senderId = principal.userId;
    }
    await requireMember(room, senderId, `${senderId} is`);
    const input = parseOrThrow(sendInputSchema, rest, "message");
    const { message, created } = await room.send(senderId, input);
    return c.json({ message }, created ? 201 : 200);
  })
  .get("/:id/messages", async (c) => {
    const user = await userFromQueryOrHeader(c);
    const after = intQuery(c, "after");
    const before = intQuery(c, "before");
    if (after !== undefined && before !== undefined) {
      throw new ParleyError("bad_request", "use either after or before, not both");
    }
    const limit = Math.min(Math.max(intQuery(c, "limit") ?? 50, 1), 200);
    const waitMs = waitMsOf(c);
    const room = await c.get("deps").directory.room(user.app, conversationIdOf(c));
    const longPoll = waitMs > 0 && after !== undefined;
    // A held long-poll is an open connection like a socket: it counts against the user's cap.
    const releaseConnection = longPoll ? c.get("deps").acquireConnection?.(user.app, user.userId) : undefined;
    if (releaseConnection === null)
      throw new ParleyError("rate_limited", "too many open connections for this user", 5);
    // A client that gives up is no longer held: its slot is free at once (the release is once only).
    const signal = c.req.raw.signal;
    if (releaseConnection) signal.addEventListener("abort", releaseConnection, { once: true });
    let page: Awaited<ReturnType<typeof room.history>>;
    try {
      page = await room.history(user.userId, {
        after,
        before,
        limit,
        ...(longPoll ? { waitMs, signal } : {}),
      });
    } finally {
      releaseConnection?.();
    }
    const body = await withUsers(c, user.app, page, sendersOf(page.messages));
    // The answer holds one of the user's read slots until the client has taken it.
    return jsonReleasing(c, body, c.get("reads").acquire(user.app, user.userId));
  })
  .get("/:id/events", async (c) => {
    const user = await userFromQueryOrHeader(c);
    const lastEventId = c.req.header("last-event-id");
    let after = intQuery(c, "after");
    if (lastEventId !== undefined && lastEventId !== "") {
      if (!lastEventIdSchema.safeParse(lastEventId).success)
        throw new ParleyError("bad_request", "Last-Event-ID must be a seq");
      after = Number(lastEventId);
    }
    const stream = await c.get("deps").directory.openEventStream({
      app: user.app,
      conversationId: conversationIdOf(c),
      userId: user.userId,
      after,
      instanceId: c.req.query("_pk"),
      signal: c.req.raw.signal,
    });
    // Built by the host, not by `c`: it did not take the headers prepared for this answer.
    const reqId = c.get("logLine")?.reqId;
    if (!reqId || stream.headers.has("X-Request-Id")) return stream;
    try {
      stream.headers.set("X-Request-Id", reqId);
      return stream;
    } catch {
      // On the edge it comes from an actor's fetch, whose headers are immutable.
      const copy = new Response(stream.body, stream);
      copy.headers.set("X-Request-Id", reqId);
      return copy;
    }
  });
