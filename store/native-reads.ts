/**
 * The reads of a room's load (its conversation row, its members with their unread counts, the
 * tail of its log), of profiles, of log pages after a seq, and of webhook delivery (a lane's
 * cursor, a conversation's events, recorded recipients), on a local database file, on a
 * connection of their own through `libsql` with statements prepared once. Why: after a restart
 * every conversation is loaded again at once (a reconnect storm of 1,000 rooms), every user's
 * first token reads their profile, and a webhook lane reads after each commit it delivers; through
 * @libsql/client and drizzle each of these reads is built, prepared and described again per call:
 * ~4x the cost of running a prepared statement on the bench machine (a lane's reads ~7x:
 * `npm run bench:lanes`). A list of keys is one JSON array parameter (`json_each`), so one statement serves
 * any number of them, and several rows come back as one JSON value (see `jsonRows`). Each
 * statement runs to completion (`get` of an aggregate), so no read snapshot outlives its call.
 */
import Database from "libsql";
import type {
  Change,
  ConversationRecord,
  LogEntry,
  MemberRecord,
  Message,
  Profile,
} from "../party/core/types.ts";
import type { ConversationEventRecord, LaneState } from "../party/host/webhooks/webhook-store.ts";
import type { Recipients } from "../protocol/index.ts";
import { assembleLog, type LogHead, logHeadsSql } from "./log-entries.ts";
import { CHANGE_COLUMNS, MESSAGE_READ_COLUMNS, toChange, toMessage } from "./rows.ts";
import { CURSOR_READ_SQL, eventRecordOf, laneStateOf } from "./webhook-rows.ts";

/**
 * Rows as one JSON array of objects (`get` of one row), for a statement that returns several:
 * libsql's `all` costs ~10-20 µs a call on the bench machine before the first row, `get` ~2.
 */
const jsonRows = (columns: string, order: string) =>
  `json_group_array(json_object(${columns
    .split(", ")
    .map((c) => `'${c}', ${c}`)
    .join(", ")}) ORDER BY ${order})`;

/**
 * The conversation and its members (key order), each with their unread count: others' messages
 * above their read position, not deleted (as LibsqlStore counts it).
 */
const LOAD_SQL = `SELECT id, title, last_seq, created_at, last_activity_at, message_count, (SELECT ${jsonRows(
  "user_id, last_read_seq, unread",
  "user_id",
)} FROM (SELECT user_id, last_read_seq, (SELECT count(*) FROM messages m WHERE m.app = members.app AND m.conversation_id = members.conversation_id AND m.seq > members.last_read_seq AND m.sender_id != members.user_id AND m.deleted = 0) AS unread FROM members WHERE app = c.app AND conversation_id = c.id)) AS members FROM conversations c WHERE app = ? AND id = ?`;

/** The last `limit` seqs of the log (messages and changes), in seq order. */
const TAIL_SQL = `SELECT ${jsonRows("seq, t", "seq")} AS heads FROM (SELECT seq, 'm' AS t FROM messages WHERE app = ? AND conversation_id = ? UNION ALL SELECT seq, 'c' AS t FROM changes WHERE app = ? AND conversation_id = ? ORDER BY seq DESC LIMIT ?)`;
const MESSAGES_SQL = `SELECT ${jsonRows(MESSAGE_READ_COLUMNS, "seq")} AS rows FROM messages WHERE app = ? AND conversation_id = ? AND seq IN (SELECT value FROM json_each(?))`;
const CHANGES_SQL = `SELECT ${jsonRows(CHANGE_COLUMNS, "seq")} AS rows FROM changes WHERE app = ? AND conversation_id = ? AND seq IN (SELECT value FROM json_each(?))`;
/** A page of the log after a seq, cut by bytes as the @libsql/client path cuts it (`readLog`). */
const AFTER_SQL = `SELECT ${jsonRows("seq, t", "seq")} AS heads FROM (${logHeadsSql("after")})`;
/** Webhook delivery's reads (store/webhook-tables.ts reads the same on @libsql/client). */
const EVENTS_SQL = `SELECT ${jsonRows("id, after_seq, type, data, at", "id")} AS rows FROM (SELECT id, after_seq, type, data, at FROM conversation_events WHERE app = ? AND conversation_id = ? AND id > ? ORDER BY id LIMIT ?)`;
const RECIPIENTS_SQL = `SELECT ${jsonRows("seq, recipients", "seq")} AS rows FROM messages WHERE app = ? AND conversation_id = ? AND recipients IS NOT NULL AND seq IN (SELECT value FROM json_each(?))`;
const PROFILES_SQL = `SELECT ${jsonRows("user_id, name, picture", "user_id")} AS rows FROM profiles WHERE app = ? AND user_id IN (SELECT value FROM json_each(?))`;

interface Open {
  db: Database.Database;
  load: Database.Statement;
  tail: Database.Statement;
  messages: Database.Statement;
  changes: Database.Statement;
  profiles: Database.Statement;
  after: Database.Statement;
  cursor: Database.Statement;
  events: Database.Statement;
  recipients: Database.Statement;
}

type Row = Record<string, unknown>;
/** The rows of a `jsonRows` column. */
const rowsOf = (row: unknown, column: string) =>
  JSON.parse(String((row as Row | undefined)?.[column] ?? "[]")) as Row[];
const nullableText = (value: unknown) => (value === null || value === undefined ? null : String(value));

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
      this.#open = {
        db,
        load: db.prepare(LOAD_SQL),
        tail: db.prepare(TAIL_SQL),
        messages: db.prepare(MESSAGES_SQL),
        changes: db.prepare(CHANGES_SQL),
        profiles: db.prepare(PROFILES_SQL),
        after: db.prepare(AFTER_SQL),
        cursor: db.prepare(CURSOR_READ_SQL),
        events: db.prepare(EVENTS_SQL),
        recipients: db.prepare(RECIPIENTS_SQL),
      };
      return this.#open;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Runs `read` on the open connection; a failed read closes it (the next one starts over). */
  #read<T>(read: (open: Open) => T): T {
    const open = this.#open ?? this.#connect();
    try {
      return read(open);
    } catch (error) {
      // A statement that failed (SQLITE_BUSY, say) may stay in progress: start over next time.
      this.close();
      throw error;
    }
  }

  /** The conversation with its members, or null when there is none. */
  loadConversation(app: string, id: string): LoadedConversation | null {
    return this.#read((open) => {
      const row = open.load.get([app, id]) as Row | undefined;
      if (!row) return null;
      const memberRows = rowsOf(row, "members");
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
    });
  }

  /**
   * The last `limit` entries of the log in seq order, as the @libsql/client path reads them
   * (`LibsqlStore.readLogTail`): messages in their latest state, changes with their target's.
   */
  readLogTail(app: string, id: string, limit: number): Promise<LogEntry[]> {
    return this.#entries(
      app,
      id,
      this.#read((open) => open.tail.get([app, id, app, id, limit])),
    );
  }

  /**
   * Up to `limit` entries after `after`, cut at `maxBytes` of bodies and meta (at least one
   * entry), as `LibsqlStore.readLog` reads them on @libsql/client.
   */
  readLogAfter(
    app: string,
    id: string,
    after: number,
    limit: number,
    maxBytes: number | undefined,
  ): Promise<LogEntry[]> {
    const bytes = maxBytes ?? Number.MAX_SAFE_INTEGER;
    return this.#entries(
      app,
      id,
      this.#read((open) => open.after.get([app, id, after, app, id, after, limit, bytes])),
    );
  }

  /** The entries of a page's heads (a `heads` row of `jsonRows`). */
  #entries(app: string, id: string, headsRow: unknown): Promise<LogEntry[]> {
    const heads = rowsOf(headsRow, "heads").map(
      (r): LogHead => ({ seq: Number(r.seq), change: r.t === "c" }),
    );
    return assembleLog(heads, {
      changes: (seqs): Change[] =>
        rowsOf(
          this.#read((open) => open.changes.get([app, id, JSON.stringify(seqs)])),
          "rows",
        ).map(toChange),
      messages: (seqs): Message[] =>
        seqs.length === 0
          ? []
          : rowsOf(
              this.#read((open) => open.messages.get([app, id, JSON.stringify(seqs)])),
              "rows",
            ).map((row) => toMessage(row as unknown as Parameters<typeof toMessage>[0])),
    });
  }

  /** A lane's cursor (none yet: the start of the log). */
  readCursor(app: string, endpointId: string, conversationId: string): LaneState {
    const row = this.#read((open) => open.cursor.get([app, endpointId, conversationId])) as Row | undefined;
    return row ? laneStateOf(row) : { lastSeq: 0, lastEvent: 0, failingSince: null };
  }

  /** Up to `limit` conversation events after `afterId`, in id order. */
  readEvents(app: string, conversationId: string, afterId: number, limit: number): ConversationEventRecord[] {
    return rowsOf(
      this.#read((open) => open.events.get([app, conversationId, afterId, limit])),
      "rows",
    ).map(eventRecordOf);
  }

  /** The recipients recorded for these messages (a message without them is not in the map). */
  readRecipients(app: string, conversationId: string, seqs: readonly number[]): Map<number, Recipients> {
    const found = new Map<number, Recipients>();
    if (seqs.length === 0) return found;
    const rows = rowsOf(
      this.#read((open) => open.recipients.get([app, conversationId, JSON.stringify(seqs)])),
      "rows",
    );
    for (const row of rows) found.set(Number(row.seq), JSON.parse(String(row.recipients)) as Recipients);
    return found;
  }

  /** The stored profiles of these users (distinct ids); a user without one is not in the map. */
  readProfiles(app: string, userIds: readonly string[]): Map<string, Profile> {
    const found = new Map<string, Profile>();
    if (userIds.length === 0) return found;
    const rows = rowsOf(
      this.#read((open) => open.profiles.get([app, JSON.stringify(userIds)])),
      "rows",
    );
    for (const row of rows)
      found.set(String(row.user_id), { name: nullableText(row.name), picture: nullableText(row.picture) });
    return found;
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
