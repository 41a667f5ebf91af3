/** Typing, read receipts and presence: the ephemeral side of a conversation. */
import { Hono } from "hono";
import { readInputSchema } from "../../party/core/validation.ts";
import {
  type ApiEnv,
  bodyOf,
  conversationIdOf,
  requireMember,
  userFromQueryOrHeader,
  userOf,
} from "../context.ts";

export const signalRoutes = new Hono<ApiEnv>()
  .post("/:id/typing", async (c) => {
    const user = await userOf(c);
    const room = await c.get("deps").directory.room(user.app, conversationIdOf(c));
    await room.typing(user.userId);
    return c.body(null, 204);
  })
  .post("/:id/read", async (c) => {
    const user = await userOf(c);
    const room = await c.get("deps").directory.room(user.app, conversationIdOf(c));
    await requireMember(room, user.userId);
    const { seq } = await bodyOf(c, readInputSchema, "read receipt", user);
    await room.markRead(user.userId, seq);
    return c.body(null, 204);
  })
  .get("/:id/presence", async (c) => {
    const user = await userFromQueryOrHeader(c);
    const room = await c.get("deps").directory.room(user.app, conversationIdOf(c));
    return c.json({ online: await room.presence(user.userId) });
  });
