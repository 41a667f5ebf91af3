/**
 * The durable shape of Parley, in drizzle. Every table is keyed by `app` first: tenants never
 * share a row, and every query starts from the app of a verified credential.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const conversations = sqliteTable(
  "conversations",
  {
    app: text("app").notNull(),
    id: text("id").notNull(),
    title: text("title"),
    lastSeq: integer("last_seq").notNull().default(0),
    createdAt: text("created_at").notNull(),
    /** ISO time of the last message (or creation): orders the thread list. */
    lastActivityAt: text("last_activity_at").notNull(),
    /** Messages in the log (changes not counted): unread counts are counted in messages. */
    messageCount: integer("message_count").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.app, t.id] })],
);

export const members = sqliteTable(
  "members",
  {
    app: text("app").notNull(),
    conversationId: text("conversation_id").notNull(),
    userId: text("user_id").notNull(),
    lastReadSeq: integer("last_read_seq").notNull().default(0),
    joinedAt: text("joined_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.app, t.conversationId, t.userId] }),
    // The thread list starts from "which conversations is this user in".
    index("members_by_user").on(t.app, t.userId),
  ],
);

export const messages = sqliteTable(
  "messages",
  {
    app: text("app").notNull(),
    conversationId: text("conversation_id").notNull(),
    seq: integer("seq").notNull(),
    id: text("id").notNull(),
    senderId: text("sender_id").notNull(),
    clientMessageId: text("client_message_id").notNull(),
    body: text("body").notNull(),
    /** JSON text of the optional `meta` object, kept verbatim. */
    meta: text("meta"),
    createdAt: text("created_at").notNull(),
    /** The message's latest state, kept beside the log so reads need not replay it. */
    editedAt: text("edited_at"),
    deleted: integer("deleted").notNull().default(0),
    /** JSON text of `{ key: { count, users } }`. */
    reactions: text("reactions").notNull().default("{}"),
    replyTo: integer("reply_to"),
    replyCount: integer("reply_count").notNull().default(0),
    /**
     * JSON `{ online, offline }`: the other members, split by whether they had a live connection
     * when the message was committed (a webhook's `data.recipients`). Recorded only while the
     * app has webhook endpoints.
     */
    recipients: text("recipients"),
    /** 1 when the pre-send hook rewrote the message: a retry of its key is a replay, not a conflict. */
    rewritten: integer("rewritten").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.app, t.conversationId, t.seq] }),
    // Idempotency lives in the store so that it survives restarts (ARCHITECTURE.md, rule 2).
    // The key comes first: the SDK's keys start with their time (client/ids.ts), so a commit's
    // new keys land together at the end of this index, a page or two for the whole group,
    // where (conversation, sender, key) put each sender's key on a page of its own (measured
    // with `npm run bench:commit`: about half the bytes a commit writes, and 38% of its CPU per
    // message with the SDK's keys). The same columns, so the same uniqueness; a lookup by
    // (conversation, key) is a seek per key.
    uniqueIndex("messages_idempotency").on(t.app, t.clientMessageId, t.conversationId, t.senderId),
    // The replies to one message, in order. Only replies are indexed: most messages are not one, and every indexed row costs each
    // commit another page to write (measured: 20% of the bytes a send writes).
    index("messages_replies").on(t.app, t.conversationId, t.replyTo, t.seq).where(sql`reply_to IS NOT NULL`),
  ],
);

/**
 * The log's other entries: changes (edit, delete, react, unreact) to earlier messages, under the
 * same seq as messages. The target's latest state is updated in `messages` in the same
 * transaction as its change is written.
 */
export const changes = sqliteTable(
  "changes",
  {
    app: text("app").notNull(),
    conversationId: text("conversation_id").notNull(),
    seq: integer("seq").notNull(),
    target: integer("target").notNull(),
    kind: text("kind").notNull(),
    /** Null when the app's back end made the change (server key). */
    userId: text("user_id"),
    at: text("at").notNull(),
    /** JSON text of `{ body?, meta?, key? }`; an edit's text is scrubbed when its message is deleted. */
    data: text("data").notNull().default("{}"),
  },
  (t) => [
    primaryKey({ columns: [t.app, t.conversationId, t.seq] }),
    index("changes_by_target").on(t.app, t.conversationId, t.target),
  ],
);

/** An app's webhook endpoints: where its back end hears its conversations. */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    app: text("app").notNull(),
    id: text("id").notNull(),
    url: text("url").notNull(),
    /** `whsec_…`: signs every delivery (Standard Webhooks). */
    secret: text("secret").notNull(),
    /** JSON list of event types; empty: every event. */
    events: text("events").notNull().default("[]"),
    /** `active`, or `failing` (paused after a lane failed past the retry window). */
    status: text("status").notNull().default("active"),
    /** The last failure of any of its lanes, while one of them fails. */
    lastError: text("last_error"),
    /** When its oldest failing lane began to fail (ISO), while one of them fails. */
    failingSince: text("failing_since"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.app, t.id] })],
);

/**
 * Per endpoint and conversation (a lane), how far delivery got: the last log seq answered 2xx,
 * and the last conversation event. Moved only after a 2xx, so a restart resumes where it
 * stopped. While the lane's next delivery keeps failing: since when, and why.
 */
export const webhookCursors = sqliteTable(
  "webhook_cursors",
  {
    app: text("app").notNull(),
    endpointId: text("endpoint_id").notNull(),
    conversationId: text("conversation_id").notNull(),
    lastSeq: integer("last_seq").notNull().default(0),
    lastEvent: integer("last_event").notNull().default(0),
    failingSince: text("failing_since"),
    lastError: text("last_error"),
  },
  (t) => [primaryKey({ columns: [t.app, t.endpointId, t.conversationId] })],
);

/**
 * What happens to a conversation outside its log (created, a member added or removed), placed
 * in its order by the log's lastSeq at the time: webhooks deliver them between the entries.
 */
export const conversationEvents = sqliteTable(
  "conversation_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    app: text("app").notNull(),
    conversationId: text("conversation_id").notNull(),
    afterSeq: integer("after_seq").notNull(),
    type: text("type").notNull(),
    data: text("data").notNull().default("{}"),
    at: text("at").notNull(),
  },
  (t) => [index("conversation_events_by_conversation").on(t.app, t.conversationId, t.id)],
);

/**
 * Who a user is, as people see them: a display name and a picture per (app, user), set by the
 * app's back end (server key, or the `name` / `picture` claims of a user token). Read beside
 * messages, members and thread lists, never copied into them.
 */
export const profiles = sqliteTable(
  "profiles",
  {
    app: text("app").notNull(),
    userId: text("user_id").notNull(),
    name: text("name"),
    /** An http(s) URL of the user's picture. */
    picture: text("picture"),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.app, t.userId] })],
);

/**
 * The users whose inbox listens on the edge (an open inbox socket, or one about to open): a new
 * conversation tells only these members' inbox actors, so creating a conversation of 64 members
 * wakes no object for a member nobody is watching. Written by the inbox actor before it reads the
 * user's conversations to register with their rooms, and read after the conversation's insert:
 * whichever of the two comes second in the database sees the other (party/host/actor-directory.ts).
 * Node keeps this in memory and never writes it.
 */
export const inboxListeners = sqliteTable(
  "inbox_listeners",
  {
    app: text("app").notNull(),
    userId: text("user_id").notNull(),
    since: text("since").notNull(),
  },
  (t) => [primaryKey({ columns: [t.app, t.userId] })],
);
