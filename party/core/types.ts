/**
 * The relay's data types. What clients see is defined once, in `protocol/`; the records here
 * are the store's view of a conversation.
 */
export type {
  Change,
  ChangeKind,
  EditFields,
  LogEntry,
  Message,
  Profile,
  Reaction,
  SendFields as SendInput,
  ThreadItem,
} from "../../protocol/index.ts";

/** A conversation's durable header. */
export interface ConversationRecord {
  id: string;
  title: string | null;
  lastSeq: number;
  createdAt: string;
  lastActivityAt: string;
  /** Messages in the log (changes not counted). */
  messageCount?: number;
}

export interface MemberRecord {
  userId: string;
  lastReadSeq: number;
}
