/**
 * Conversation events (created, member added or removed) are written in the same transaction
 * as the change they describe, and only while the app has a webhook endpoint: an app without
 * webhooks pays nothing. Each takes the conversation's lastSeq at that moment as its place in
 * the log (`after_seq`), so delivery puts it between the right entries.
 */
import type { InStatement } from "@libsql/client";

const HAS_ENDPOINTS = "EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.app = ?)";

/**
 * Records `type` for a conversation, when `guard` (SQL, with its `guardArgs`) holds and the app
 * has endpoints. `guard` usually reads `changes()`: the rows the statement just before changed.
 */
export function recordEvent(
  app: string,
  conversationId: string,
  type: string,
  data: Record<string, unknown>,
  at: string,
  guard: string,
  guardArgs: Array<string | number> = [],
): InStatement {
  return {
    sql: `INSERT INTO conversation_events (app, conversation_id, after_seq, type, data, at)
          SELECT c.app, c.id, c.last_seq, ?, ?, ? FROM conversations c
          WHERE c.app = ? AND c.id = ? AND ${guard} AND ${HAS_ENDPOINTS}`,
    args: [type, JSON.stringify(data), at, app, conversationId, ...guardArgs, app],
  };
}

/**
 * A new conversation, its members and its `conversation.created` event, in one transaction.
 * The members are added only when the conversation row was (the id was free); the event only
 * for that row (its creation time) and only once per conversation.
 */
export function createConversationStatements(
  app: string,
  conversation: { id: string; title: string | null; createdAt: string; lastActivityAt: string },
  memberIds: readonly string[],
): InStatement[] {
  const { id, title, createdAt, lastActivityAt } = conversation;
  return [
    {
      sql: "INSERT INTO conversations (app, id, title, last_seq, created_at, last_activity_at) VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT DO NOTHING",
      args: [app, id, title, createdAt, lastActivityAt],
    },
    {
      // changes(): the conversation INSERT just before (1 when the row is new).
      sql: "INSERT INTO members (app, conversation_id, user_id, joined_at) SELECT ?, ?, value, ? FROM json_each(?) WHERE changes() = 1 ON CONFLICT DO NOTHING",
      args: [app, id, createdAt, JSON.stringify(memberIds)],
    },
    recordEvent(
      app,
      id,
      "conversation.created",
      { conversation: { id, title, members: memberIds } },
      createdAt,
      "c.created_at = ? AND NOT EXISTS (SELECT 1 FROM conversation_events x WHERE x.app = c.app AND x.conversation_id = c.id)",
      [createdAt],
    ),
  ];
}

/** A member joins (idempotent): `member.added` only when the row is new. */
export function addMemberStatements(
  app: string,
  conversationId: string,
  userId: string,
  at: string,
): InStatement[] {
  return [
    {
      sql: "INSERT INTO members (app, conversation_id, user_id, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      args: [app, conversationId, userId, at],
    },
    recordEvent(app, conversationId, "member.added", { userId }, at, "changes() = 1"),
  ];
}

/** A member leaves (idempotent): `member.removed` only when there was a row. */
export function removeMemberStatements(
  app: string,
  conversationId: string,
  userId: string,
  at: string,
): InStatement[] {
  return [
    {
      sql: "DELETE FROM members WHERE app = ? AND conversation_id = ? AND user_id = ?",
      args: [app, conversationId, userId],
    },
    recordEvent(app, conversationId, "member.removed", { userId }, at, "changes() = 1"),
  ];
}
