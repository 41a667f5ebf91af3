/** Rows of the log's two tables, and the protocol's shapes they hold. */
import { isRewritten, markRewritten } from "../party/core/rewritten.ts";
import type { Change, ChangeKind, Message, Reaction } from "../party/core/types.ts";

/** A `messages` row as the drivers return it (snake_case, integers as numbers or bigints). */
export interface MessageRowLike {
  conversation_id?: unknown;
  conversationId?: unknown;
  seq: unknown;
  id: unknown;
  sender_id?: unknown;
  senderId?: unknown;
  client_message_id?: unknown;
  clientMessageId?: unknown;
  body: unknown;
  meta: unknown;
  created_at?: unknown;
  createdAt?: unknown;
  edited_at?: unknown;
  editedAt?: unknown;
  deleted: unknown;
  reactions: unknown;
  reply_to?: unknown;
  replyTo?: unknown;
  reply_count?: unknown;
  replyCount?: unknown;
  rewritten?: unknown;
}

const pick = (row: Record<string, unknown>, camel: string, snake: string) =>
  row[camel] !== undefined ? row[camel] : row[snake];

/** A stored message row in its latest state (drizzle's camelCase or a raw row's snake_case). */
export function toMessage(row: MessageRowLike): Message {
  const r = row as unknown as Record<string, unknown>;
  const message: Message = {
    id: String(r.id),
    conversationId: String(pick(r, "conversationId", "conversation_id")),
    seq: Number(r.seq),
    senderId: String(pick(r, "senderId", "sender_id")),
    clientMessageId: String(pick(r, "clientMessageId", "client_message_id")),
    body: String(r.body),
    createdAt: String(pick(r, "createdAt", "created_at")),
    reactions: JSON.parse(String(r.reactions ?? "{}")) as Record<string, Reaction>,
    replyCount: Number(pick(r, "replyCount", "reply_count") ?? 0),
  };
  if (r.meta !== null && r.meta !== undefined)
    message.meta = JSON.parse(String(r.meta)) as Record<string, unknown>;
  const editedAt = pick(r, "editedAt", "edited_at");
  if (editedAt !== null && editedAt !== undefined) message.editedAt = String(editedAt);
  if (Number(r.deleted) === 1) message.deleted = true;
  const replyTo = pick(r, "replyTo", "reply_to");
  if (replyTo !== null && replyTo !== undefined) message.replyTo = Number(replyTo);
  if (Number(r.rewritten ?? 0) === 1) markRewritten(message);
  return message;
}

/**
 * A message's columns beside its key, as one INSERT's values. `recipients` is the JSON of its
 * webhook recipients, when the room recorded them.
 */
export function messageValues(
  app: string,
  conversationId: string,
  m: Message,
  recipients: string | null = null,
): Array<string | number | null> {
  return [
    app,
    conversationId,
    m.seq,
    m.id,
    m.senderId,
    m.clientMessageId,
    m.body,
    m.meta === undefined ? null : JSON.stringify(m.meta),
    m.createdAt,
    m.editedAt ?? null,
    m.deleted ? 1 : 0,
    JSON.stringify(m.reactions),
    m.replyTo ?? null,
    m.replyCount,
    recipients,
    isRewritten(m) ? 1 : 0,
  ];
}

export const MESSAGE_COLUMNS =
  "app, conversation_id, seq, id, sender_id, client_message_id, body, meta, created_at, edited_at, deleted, reactions, reply_to, reply_count, recipients, rewritten";
/** The columns a read of messages needs (`toMessage`): all but the webhook recipients. */
export const MESSAGE_READ_COLUMNS =
  "app, conversation_id, seq, id, sender_id, client_message_id, body, meta, created_at, edited_at, deleted, reactions, reply_to, reply_count, rewritten";
export const MESSAGE_PLACEHOLDERS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/** The state columns of an existing message, rewritten whole by a change (and a reply's parent). */
export const UPDATE_STATE_SQL =
  "UPDATE messages SET body = ?, meta = ?, edited_at = ?, deleted = ?, reactions = ?, reply_count = ? WHERE app = ? AND conversation_id = ? AND seq = ?";

export function stateValues(app: string, conversationId: string, m: Message): Array<string | number | null> {
  return [
    m.body,
    m.meta === undefined ? null : JSON.stringify(m.meta),
    m.editedAt ?? null,
    m.deleted ? 1 : 0,
    JSON.stringify(m.reactions),
    m.replyCount,
    app,
    conversationId,
    m.seq,
  ];
}

export const CHANGE_COLUMNS = "app, conversation_id, seq, target, kind, user_id, at, data";
export const CHANGE_PLACEHOLDERS = "(?, ?, ?, ?, ?, ?, ?, ?)";

export function changeValues(app: string, conversationId: string, c: Change): Array<string | number | null> {
  const data: Record<string, unknown> = {};
  if (c.body !== undefined) data.body = c.body;
  if (c.meta !== undefined) data.meta = c.meta;
  if (c.key !== undefined) data.key = c.key;
  return [app, conversationId, c.seq, c.target, c.kind, c.userId, c.at, JSON.stringify(data)];
}

/**
 * Deleting a message scrubs the text its edits carried too: a deletion that leaves the text on
 * disk is not a deletion.
 */
export const SCRUB_EDITS_SQL =
  "UPDATE changes SET data = '{}' WHERE app = ? AND conversation_id = ? AND target = ? AND kind = 'edit'";

/** A `changes` row. */
export function toChange(row: Record<string, unknown>): Change {
  const data = JSON.parse(String(row.data ?? "{}")) as {
    body?: string;
    meta?: Record<string, unknown> | null;
    key?: string;
  };
  const change: Change = {
    seq: Number(row.seq),
    target: Number(row.target),
    kind: String(row.kind) as ChangeKind,
    userId: row.user_id === null || row.user_id === undefined ? null : String(row.user_id),
    at: String(row.at),
  };
  if (data.body !== undefined) change.body = data.body;
  if (data.meta !== undefined) change.meta = data.meta;
  if (data.key !== undefined) change.key = data.key;
  return change;
}
