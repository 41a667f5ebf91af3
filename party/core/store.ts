import type {
  Change,
  ConversationRecord,
  LogEntry,
  MemberRecord,
  Message,
  Profile,
  ThreadItem,
} from "./types.ts";

/** A page request over one conversation's log; results are always ascending by seq. */
export interface RangeQuery {
  /** Messages with seq > after (the first `limit` of them). */
  after?: number | undefined;
  /** Messages with seq < before (the last `limit` of them). */
  before?: number | undefined;
  limit: number;
  /**
   * Also stop before the page's body and meta pass this many bytes (at least one message is
   * returned): a page of large messages is cut short, and the reader asks again.
   */
  maxBytes?: number | undefined;
}

export interface ThreadCursor {
  lastActivityAt: string;
  id: string;
}

/**
 * Thrown by `appendEntries` when a message's (sender, clientMessageId) is already stored:
 * nothing of that batch was written. The room then looks the keys up and retries without them.
 */
export class DuplicateMessageError extends Error {
  override readonly name = "DuplicateMessageError";
}

/**
 * Thrown by `appendEntries` for a batch that was not written because an earlier batch of the
 * same conversation failed: its seqs followed that one's. The room plans it again.
 */
export class SupersededBatchError extends Error {
  override readonly name = "SupersededBatchError";
}

/** One room's committed batch: new log entries, and the latest state of the messages they changed. */
export interface CommitBatch {
  /** New messages, at their seqs. */
  messages: readonly Message[];
  /** New changes, at their seqs. */
  changes: readonly Change[];
  /** Existing messages in their new latest state (targets of the changes, parents of replies). */
  states: readonly Message[];
  /** Messages this batch deleted: the text their edits carried is scrubbed too. */
  scrub: readonly number[];
  /**
   * Per new message's seq, the JSON `{ online, offline }` of its webhook recipients: recorded
   * only while the app has webhook endpoints (see room/recipients.ts).
   */
  recipients?: ReadonlyMap<number, string> | undefined;
}

/** A page request over one conversation's log (messages and changes), ascending by seq. */
export interface LogQuery {
  after: number;
  limit: number;
  /** Also stop before the page's message bodies and meta pass this many bytes (at least one entry). */
  maxBytes?: number | undefined;
}

/** What a profile write sets: a field left out keeps its value, null clears it. */
export interface ProfilePatch {
  name?: string | null | undefined;
  picture?: string | null | undefined;
}

/**
 * The durable log, as the actors see it. Implementations must be safe for one writer per
 * conversation (the room) and many readers; `appendEntries` is one transaction.
 */
export interface Store {
  /**
   * A conversation, its members and each member's unread count (others' messages above their
   * lastReadSeq); null when there is no such conversation.
   */
  loadConversation(
    app: string,
    id: string,
  ): Promise<{
    conversation: ConversationRecord;
    members: MemberRecord[];
    unread: Map<string, number>;
  } | null>;
  /** Creates the conversation and its members; false when the id is taken. */
  createConversation(app: string, conversation: ConversationRecord, memberIds: string[]): Promise<boolean>;
  /** Adds a member (idempotent). */
  addMember(app: string, conversationId: string, userId: string, joinedAt: string): Promise<void>;
  removeMember(app: string, conversationId: string, userId: string): Promise<void>;
  /** The stored messages among these (sender, key) pairs. */
  findByClientIds(
    app: string,
    conversationId: string,
    keys: ReadonlyArray<{ senderId: string; clientMessageId: string }>,
  ): Promise<Message[]>;
  /**
   * Writes a batch of log entries and the states they change, and moves the conversation's
   * lastSeq, in one transaction (group commit). Throws DuplicateMessageError, and writes
   * nothing, when a message's key is already stored. A room may hand in its next batch before
   * the last one is durable: one conversation's batches are written in the order they were
   * handed in, and once one of them fails, its later ones that are not written yet, and any new
   * one, fail with SupersededBatchError (nothing written) until `resumeAppends` — so a failure
   * never leaves a gap in the seqs.
   */
  appendEntries(app: string, conversationId: string, batch: CommitBatch): Promise<void>;
  /** The room has re-planned after a failed batch: its appends are taken again. */
  resumeAppends(app: string, conversationId: string): void;
  /** Messages (latest state), paged by seq: history. */
  readRange(app: string, conversationId: string, query: RangeQuery): Promise<Message[]>;
  /** Log entries above `after`, in seq order, each message in its latest state. */
  readLog(app: string, conversationId: string, query: LogQuery): Promise<LogEntry[]>;
  /** The last `limit` log entries (a room loading its window). */
  readLogTail(app: string, conversationId: string, limit: number): Promise<LogEntry[]>;
  /** These messages in their latest state (seqs that are not messages are left out). */
  readMessages(app: string, conversationId: string, seqs: readonly number[]): Promise<Message[]>;
  /** The replies to one message, ascending by seq. */
  readReplies(
    app: string,
    conversationId: string,
    target: number,
    page: { after: number; limit: number },
  ): Promise<Message[]>;
  /** Moves a member's read position forward only. */
  setLastRead(app: string, conversationId: string, userId: string, seq: number): Promise<void>;
  /** Messages from others with `afterSeq < seq <= upToSeq`. */
  countUnreadFor(
    app: string,
    conversationId: string,
    userId: string,
    afterSeq: number,
    upToSeq: number,
  ): Promise<number>;
  /** A user's thread list, newest activity first. */
  listThreads(
    app: string,
    userId: string,
    page: { limit: number; cursor?: ThreadCursor | undefined },
  ): Promise<Array<ThreadItem & { lastActivityAt: string }>>;
  /** The stored profiles among these users (users without one are left out). */
  readProfiles(app: string, userIds: readonly string[]): Promise<Map<string, Profile>>;
  /** Sets a user's profile fields (creating it), and returns the profile as stored now. */
  writeProfile(app: string, userId: string, patch: ProfilePatch, at: string): Promise<Profile>;
  close(): Promise<void>;
}
