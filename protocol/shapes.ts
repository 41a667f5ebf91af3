/**
 * The shapes the relay and its clients exchange (CONTRACT.md): messages, thread-list rows,
 * conversations and pages. Plain data, no behaviour: the server, the HTTP API and the SDK all
 * import them from here, so there is one definition of each.
 */

/** A stored chat message, exactly as the contract shows it to clients. */
export interface Message {
  id: string;
  conversationId: string;
  /** Per-conversation number: 1, 2, 3 … with no gaps. */
  seq: number;
  senderId: string;
  /** The sender's idempotency key. */
  clientMessageId: string;
  body: string;
  meta?: Record<string, unknown>;
  /** ISO-8601, set by the server when the message is committed. */
  createdAt: string;
}

/** What a sender asks the relay to store (`POST …/messages`, a `send` frame). */
export interface SendFields {
  clientMessageId: string;
  body: string;
  meta?: Record<string, unknown> | undefined;
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
}

/** A page of the thread list (`GET /v1/conversations`). */
export interface ThreadPage {
  conversations: ThreadItem[];
  nextCursor: string | null;
}
