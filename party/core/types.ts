/** A stored chat message, exactly as the contract shows it to clients. */
export interface Message {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
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
  unread: number;
  lastMessage: Message | null;
}

/** What a sender asks the room to store. */
export interface SendInput {
  clientMessageId: string;
  body: string;
  meta?: Record<string, unknown> | undefined;
}
