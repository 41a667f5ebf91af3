/** Conversations and members: created and managed with the server key, listed by users. */
import { Hono } from "hono";
import { z } from "zod";
import { ParleyError } from "../../party/core/errors.ts";
import type { ThreadCursor } from "../../party/core/store.ts";
import {
  conversationIdSchema,
  parseOrThrow,
  refuseUnstorable,
  userIdSchema,
} from "../../party/core/validation.ts";
import { jsonReleasing } from "../bounded-reads.ts";
import {
  type ApiEnv,
  bodyOf,
  conversationIdOf,
  intQuery,
  principalOf,
  requireMember,
  serverOf,
  userOf,
} from "../context.ts";
import { peopleOfThreads, withUsers } from "../users.ts";

/** The body of `POST /v1/conversations` (also rendered in the OpenAPI document). */
export const createConversationSchema = z.strictObject({
  id: conversationIdSchema.optional(),
  // Kept verbatim in a TEXT column: no lone surrogate (it came back as U+FFFD) and no NUL.
  title: z.string().max(200, "title is at most 200 characters").superRefine(refuseUnstorable).optional(),
  members: z.array(userIdSchema).max(10_000, "at most 10,000 members"),
});

/** The first rows whose JSON fits in `maxBytes` (at least one). */
function withinBytes<T>(rows: readonly T[], maxBytes: number): T[] {
  const kept: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = JSON.stringify(row).length;
    if (kept.length > 0 && bytes + size > maxBytes) break;
    bytes += size;
    kept.push(row);
  }
  return kept;
}

const encodeCursor = (cursor: ThreadCursor) => btoa(JSON.stringify([cursor.lastActivityAt, cursor.id]));

function decodeCursor(raw: string | undefined): ThreadCursor | undefined {
  if (!raw) return undefined;
  try {
    const [lastActivityAt, id] = JSON.parse(atob(raw)) as unknown[];
    if (typeof lastActivityAt === "string" && typeof id === "string") return { lastActivityAt, id };
  } catch {
    // fall through to the refusal
  }
  throw new ParleyError("bad_request", "cursor is not one this server returned");
}

export const conversationRoutes = new Hono<ApiEnv>()
  .post("/", async (c) => {
    const { app } = await serverOf(c);
    const input = await bodyOf(c, createConversationSchema, "conversation");
    const conversation = await c.get("deps").directory.createConversation(app, input);
    return c.json({ conversation }, 201);
  })
  .get("/", async (c) => {
    const user = await userOf(c);
    const limit = Math.min(Math.max(intQuery(c, "limit") ?? 50, 1), 200);
    const cursor = decodeCursor(c.req.query("cursor"));
    const rows = await c.get("deps").directory.listThreads(user.app, user.userId, { limit, cursor });
    // A page is cut at about `pageBytes` too (a row carries its last message and its members):
    // the cursor then continues from the last row that fit.
    const page = withinBytes(rows, c.get("deps").limits.pageBytes);
    const last = page[page.length - 1];
    const more = page.length < rows.length || rows.length === limit;
    const conversations = page.map(({ lastActivityAt: _, ...item }) => item);
    const body = await withUsers(
      c,
      user.app,
      { conversations, nextCursor: more && last ? encodeCursor(last) : null },
      peopleOfThreads(conversations),
    );
    return jsonReleasing(c, body, c.get("reads").acquire(user.app, user.userId));
  })
  .get("/:id", async (c) => {
    const principal = await principalOf(c);
    const room = await c.get("deps").directory.room(principal.app, conversationIdOf(c));
    if (principal.kind === "user") await requireMember(room, principal.userId);
    const conversation = await room.describe();
    // The members' profiles: what a client shows for typing, presence and read receipts.
    return c.json(
      await withUsers(
        c,
        principal.app,
        { conversation },
        conversation.members.map((m) => m.userId),
      ),
    );
  })
  .put("/:id/members/:userId", async (c) => {
    const { app } = await serverOf(c);
    const userId = parseOrThrow(userIdSchema, c.req.param("userId"), "user id");
    const room = await c.get("deps").directory.room(app, conversationIdOf(c));
    await room.addMember(userId, new Date().toISOString());
    return c.body(null, 204);
  })
  .delete("/:id/members/:userId", async (c) => {
    const { app } = await serverOf(c);
    const userId = parseOrThrow(userIdSchema, c.req.param("userId"), "user id");
    const room = await c.get("deps").directory.room(app, conversationIdOf(c));
    await room.removeMember(userId);
    return c.body(null, 204);
  });
