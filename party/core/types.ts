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

/** A conversation's durable header. */
export interface ConversationRecord {
  id: string;
  title: string | null;
  lastSeq: number;
  createdAt: string;
  lastActivityAt: string;
}

export interface MemberRecord {
  userId: string;
  lastReadSeq: number;
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

/** What a sender asks the room to store. */
export interface SendInput {
  clientMessageId: string;
  body: string;
  meta?: Record<string, unknown> | undefined;
}
