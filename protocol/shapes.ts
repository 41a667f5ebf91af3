/**
 * The shapes the relay and its clients exchange (CONTRACT.md): messages, thread-list rows,
 * conversations and pages. Plain data, no behaviour: the server, the HTTP API and the SDK all
 * import them from here, so there is one definition of each.
 */

/** One reaction key on a message: how many reacted with it, and who. */
export interface Reaction {
  count: number;
  users: string[];
}

/**
 * A chat message in its latest state, exactly as the contract shows it to clients. It keeps
 * the seq of the log entry that created it for life; changes (edits, deletion, reactions) are
 * later entries that update it.
 */
export interface Message {
  id: string;
  conversationId: string;
  /** Per-conversation number of the entry that created it: 1, 2, 3 … with no gaps. */
  seq: number;
  senderId: string;
  /** The sender's idempotency key. */
  clientMessageId: string;
  /** "" once deleted. */
  body: string;
  meta?: Record<string, unknown>;
  /** ISO-8601, set by the server when the message is committed. */
  createdAt: string;
  /** ISO-8601 of the last edit, if it was edited. */
  editedAt?: string;
  /** A tombstone: body "", no meta. */
  deleted?: true;
  /** Per reaction key: its count and users (the same for every viewer). */
  reactions: Record<string, Reaction>;
  /** The seq of the message (same conversation) this one answers; set at send, never changed. */
  replyTo?: number;
  /** How many messages answer this one. */
  replyCount: number;
}

/** What a sender asks the relay to store (`POST …/messages`, a `send` frame). */
export interface SendFields {
  clientMessageId: string;
  body: string;
  meta?: Record<string, unknown> | undefined;
  /** The seq of a message of the same conversation this one answers. */
  replyTo?: number | undefined;
}

/** What a change does to its target message. */
export type ChangeKind = "edit" | "delete" | "react" | "unreact";

/**
 * A change: a log entry (its own seq) that updates an earlier message. `userId` is the member
 * who made it, or null when the app's back end did (server key).
 */
export interface Change {
  seq: number;
  /** The seq of the message it changes. */
  target: number;
  kind: ChangeKind;
  userId: string | null;
  /** ISO-8601, set by the server when the change is committed. */
  at: string;
  /** edit: the new body, when the edit set one (never sent again once the message is deleted). */
  body?: string;
  /** edit: the new meta, when the edit set one (null: removed). */
  meta?: Record<string, unknown> | null;
  /** react / unreact: the reaction key. */
  key?: string;
}

/** What an edit sets (`PATCH …/messages/:seq`, an `edit` frame): at least one of the two. */
export interface EditFields {
  body?: string | undefined;
  /** null removes the meta. */
  meta?: Record<string, unknown> | null | undefined;
}

/** One row of a user's thread list (`GET /v1/conversations`, inbox `thread` frames). */
export interface ThreadItem {
  id: string;
  title: string | null;
  members: string[];
  lastSeq: number;
  lastReadSeq: number;
  /** Messages from others above `lastReadSeq`. */
  unread: number;
  lastMessage: Message | null;
}

/**
 * How a user is shown to others: a display name and a picture (an http(s) URL), set by the
 * app's back end (server key, or a user token's `name` / `picture` claims). Either may be null.
 */
export interface Profile {
  name: string | null;
  picture: string | null;
}

/**
 * The profiles of the users an answer refers to (senders, members), by user id. Sent beside
 * the answer's rows, once per user, never copied into them; a user without a profile is left
 * out (show their id).
 */
export type Users = Record<string, Profile>;

/** A member and their read position. */
export interface MemberView {
  userId: string;
  lastReadSeq: number;
}

/** `GET /v1/conversations/:id`'s conversation. */
export interface ConversationView {
  id: string;
  title: string | null;
  lastSeq: number;
  members: MemberView[];
}

/** A page of history, always ascending by seq (`GET …/messages`). */
export interface HistoryPage {
  messages: Message[];
  /** The conversation's last seq when the page was read. */
  lastSeq: number;
  /** With `after`: more above the page; with `before`: more below it. */
  hasMore: boolean;
  /** The profiles of the page's senders (added in v1.2; absent from older relays). */
  users?: Users;
}

/** One log entry, exactly as its frame (`GET …/log`, replay): `message` in its latest state. */
export type LogEntry =
  | { type: "message"; message: Message }
  | { type: "change"; change: Change; message: Message };

/** A page of the log (`GET …/log`), ascending by seq. */
export interface LogPage {
  entries: LogEntry[];
  /** The conversation's last seq when the page was read. */
  lastSeq: number;
  /** More entries above the page. */
  hasMore: boolean;
  /** The profiles of the page's senders and of who made its changes (v1.2). */
  users?: Users;
}

/** The replies to one message (`GET …/messages/:seq/replies`), ascending by seq. */
export interface RepliesPage {
  messages: Message[];
  hasMore: boolean;
  /** The profiles of the replies' senders (v1.2). */
  users?: Users;
}

/** A page of the thread list (`GET /v1/conversations`). */
export interface ThreadPage {
  conversations: ThreadItem[];
  nextCursor: string | null;
  /** The profiles of the rows' members and last senders (v1.2). */
  users?: Users;
}
