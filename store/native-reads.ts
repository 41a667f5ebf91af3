/**
 * The reads of a room's load (its conversation row, its members with their unread counts) on a
 * local database file, on a connection of their own through `libsql` with statements prepared
 * once. Why: after a restart every conversation is loaded again at once (a reconnect storm of
 * 1,000 rooms), and through @libsql/client and drizzle each of these reads is built, prepared and
 * described again per call: ~4x the cost of running a prepared statement on the bench machine.
 * Each statement runs to completion (`all`), so no read snapshot outlives its call.
 */
import Database from "libsql";
import type { ConversationRecord, MemberRecord } from "../party/core/types.ts";

const CONVERSATION_SQL =
  "SELECT id, title, last_seq, created_at, last_activity_at, message_count FROM conversations WHERE app = ? AND id = ?";
/** Unread: others' messages above the member's read position (as LibsqlStore counts it). */
const MEMBERS_SQL = `SELECT user_id, last_read_seq, (SELECT count(*) FROM messages m WHERE m.app = members.app AND m.conversation_id = members.conversation_id AND m.seq > members.last_read_seq AND m.sender_id != members.user_id) AS unread FROM members WHERE app = ? AND conversation_id = ?`;

interface Open {
  db: Database.Database;
  conversation: Database.Statement;
  members: Database.Statement;
}

/** What a room's load reads: the conversation, its members and each one's unread count. */
export interface LoadedConversation {
  conversation: ConversationRecord;
  members: MemberRecord[];
  unread: Map<string, number>;
}

export class NativeReadConnection {
  #open: Open | null = null;

  constructor(
    private readonly path: string,
    /** The store's per-connection settings (busy timeout). */
    private readonly pragmas: readonly string[],
  ) {}

  #connect(): Open {
    const db = new Database(this.path);
    try {
      for (const pragma of this.pragmas) db.exec(pragma);
      this.#open = { db, conversation: db.prepare(CONVERSATION_SQL), members: db.prepare(MEMBERS_SQL) };
      return this.#open;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** The conversation with its members, or null when there is none. */
  loadConversation(app: string, id: string): LoadedConversation | null {
    const open = this.#open ?? this.#connect();
    try {
      const [row] = open.conversation.all([app, id]) as Array<Record<string, unknown>>;
      if (!row) return null;
      const memberRows = open.members.all([app, id]) as Array<Record<string, unknown>>;
      const conversation: ConversationRecord = {
        id: String(row.id),
        title: row.title === null || row.title === undefined ? null : String(row.title),
        lastSeq: Number(row.last_seq),
        createdAt: String(row.created_at),
        lastActivityAt: String(row.last_activity_at),
        messageCount: Number(row.message_count),
      };
      return {
        conversation,
        members: memberRows.map((m) => ({ userId: String(m.user_id), lastReadSeq: Number(m.last_read_seq) })),
        unread: new Map(memberRows.map((m) => [String(m.user_id), Number(m.unread)])),
      };
    } catch (error) {
      // A statement that failed (SQLITE_BUSY, say) may stay in progress: start over next time.
      this.close();
      throw error;
    }
  }

  close(): void {
    const open = this.#open;
    this.#open = null;
    try {
      open?.db.close();
    } catch {
      // the read's own error is the one to report
    }
  }
}
