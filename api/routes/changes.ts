/**
 * Changes to messages (edit, delete, reactions) and a message's replies. Each change is an entry
 * of the conversation's log, answered with the message's state once it is durable; a change
 * that changes nothing appends nothing and answers the same.
 */
import { Hono } from "hono";
import { ParleyError } from "../../party/core/errors.ts";
import type { Actor } from "../../party/core/room/message-changes.ts";
import {
  editInputSchema,
  messageSeqSchema,
  parseOrThrow,
  reactionKeySchema,
} from "../../party/core/validation.ts";
import type { Principal } from "../../party/host/auth.ts";
import { jsonReleasing } from "../bounded-reads.ts";
import {
  type ApiContext,
  type ApiEnv,
  bodyOf,
  conversationIdOf,
  intQuery,
  principalOf,
  requireMember,
  userOf,
} from "../context.ts";
import { seqParamSchema } from "../params.ts";
import { sendersOf, withUsers } from "../users.ts";

/** The `:seq` of a message route: a positive integer, else 400. */
function seqOf(c: ApiContext): number {
  const raw = c.req.param("seq") ?? "";
  if (!seqParamSchema.safeParse(raw).success)
    throw new ParleyError("bad_request", "the message seq must be a positive integer");
  return parseOrThrow(messageSeqSchema, Number(raw), "message seq");
}

/**
 * The `:key` of a reaction route, decoded from the raw path. A segment whose escapes are not
 * UTF-8 (`%FF`, a lone surrogate) is 400: Hono keeps such a segment as its escaped text, which
 * made `%FF` the same key as a real `%FF` (sent as `%25FF`).
 */
function reactionKeyOf(c: ApiContext): string {
  const path = new URL(c.req.url).pathname;
  let key: string;
  try {
    key = decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
  } catch {
    throw new ParleyError(
      "bad_request",
      "the reaction key is not valid UTF-8 once its %-escapes are decoded",
    );
  }
  return parseOrThrow(reactionKeySchema, key, "reaction key");
}

const actorOf = (principal: Principal): Actor =>
  principal.kind === "server" ? { server: true } : { userId: principal.userId };

export const changeRoutes = new Hono<ApiEnv>()
  .patch("/:id/messages/:seq", async (c) => {
    const principal = await principalOf(c);
    const room = await c.get("deps").directory.room(principal.app, conversationIdOf(c));
    const seq = seqOf(c);
    // As for a send: a non-member learns nothing from a 400 about the body.
    if (principal.kind === "user") await requireMember(room, principal.userId);
    const fields = await bodyOf(c, editInputSchema, "edit", principal);
    const { message } = await room.edit(actorOf(principal), seq, fields);
    return c.json({ message });
  })
  .delete("/:id/messages/:seq", async (c) => {
    const principal = await principalOf(c);
    const room = await c.get("deps").directory.room(principal.app, conversationIdOf(c));
    const { message } = await room.deleteMessage(actorOf(principal), seqOf(c));
    return c.json({ message });
  })
  .put("/:id/messages/:seq/reactions/:key", async (c) => {
    const user = await userOf(c);
    const room = await c.get("deps").directory.room(user.app, conversationIdOf(c));
    const key = reactionKeyOf(c);
    const { message } = await room.react(user.userId, seqOf(c), key);
    return c.json({ message });
  })
  .delete("/:id/messages/:seq/reactions/:key", async (c) => {
    const user = await userOf(c);
    const room = await c.get("deps").directory.room(user.app, conversationIdOf(c));
    const key = reactionKeyOf(c);
    const { message } = await room.unreact(user.userId, seqOf(c), key);
    return c.json({ message });
  })
  .get("/:id/messages/:seq/replies", async (c) => {
    const user = await userOf(c);
    const room = await c.get("deps").directory.room(user.app, conversationIdOf(c));
    const seq = seqOf(c);
    const after = intQuery(c, "after") ?? 0;
    const limit = Math.min(Math.max(intQuery(c, "limit") ?? 50, 1), 200);
    const page = await room.replies(user.userId, seq, { after, limit });
    const body = await withUsers(c, user.app, page, sendersOf(page.messages));
    return jsonReleasing(c, body, c.get("reads").acquire(user.app, user.userId));
  });
