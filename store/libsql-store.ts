/**
 * The libSQL implementation of the durable log. One writer per conversation (its room); the
 * hot path (`appendEntries`) is one `batch` = one transaction, so a group of messages becomes
 * durable together or not at all.
 */
import type { Client } from "@libsql/client";
import { and, asc, desc, eq, getTableColumns, gt, inArray, lt, lte, or, sql } from "drizzle-orm";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import {
  type CommitBatch,
  DuplicateMessageError,
  type LogQuery,
  type ProfilePatch,
  type RangeQuery,
  type Store,
  type ThreadCursor,
} from "../party/core/store.ts";
import type {
  ConversationRecord,
  LogEntry,
  MemberRecord,
  Message,
  Profile,
  ThreadItem,
} from "../party/core/types.ts";
import { type AppendRows, insertStatements, isDuplicateKey } from "./append-rows.ts";
import {
  addMemberStatements,
  createConversationStatements,
  removeMemberStatements,
} from "./conversation-events.ts";
import { type CommitObserver, GroupCommit } from "./group-commit.ts";
import { LibsqlInboxListeners } from "./inbox-listener-table.ts";
import { assembleLog, logHeadsSql } from "./log-entries.ts";
import type { NativeReadConnection } from "./native-reads.ts";
import { recoveringWrite } from "./recovering-write.ts";
import { MESSAGE_READ_COLUMNS, toChange, toMessage } from "./rows.ts";
import * as schema from "./schema.ts";
import { LibsqlWebhookStore } from "./webhook-tables.ts";

const { conversations, members, messages, profiles } = schema;

/** A message row without its webhook recipients (large in large rooms, read only by delivery). */
const { recipients: _recipients, ...messageColumns } = getTableColumns(messages);

/**
 * Unread of the current `members` row: others' messages above its lastReadSeq, not deleted
 * (a tombstone has nothing to read). Written out
 * with qualified names: inside the subquery a bare "app" would mean the messages row's own.
 */
const UNREAD_OF_MEMBER_ROW = sql.raw(
  `SELECT count(*) FROM messages m WHERE m.app = "members"."app" AND m.conversation_id = "members"."conversation_id" AND m.seq > "members"."last_read_seq" AND m.sender_id != "members"."user_id" AND m.deleted = 0`,
);

/** A connection of its own for the group commit (a local file's: `NativeAppendConnection`). */
export interface AppendConnection {
  /** Stores the batches in one transaction, or none of them (and throws). */
  write(jobs: readonly AppendRows[]): void;
  /** A setting of this connection (e.g. `synchronous`), for checks. */
  setting(name: string): unknown;
  close(): void;
}

export interface LibsqlStoreOptions {
  /** Per-connection settings (synchronous, busy_timeout) to apply to every new connection. */
  pragmas?: readonly string[];
  /** Runs the shared commit soon; Node passes setImmediate. */
  schedule?: (fn: () => void) => void;
  /** Where group commits run; without it, on `client` (one `batch` per commit). */
  appendConnection?: AppendConnection;
  /** Told of each group commit (the host's metrics). */
  commitObserver?: CommitObserver | undefined;
  /**
   * Where a room's load, profiles, log pages and the webhook lanes read (a local file's:
   * `NativeReadConnection`); without it, `client`.
   */
  loadReads?: NativeReadConnection | undefined;
  /**
   * Start over on a fresh connection after a failed write (recovering-write.ts). Only for a
   * local file (the default is false): a fresh connection to `:memory:` is a new, empty
   * database, and a remote client (sqld over HTTP or WebSocket) is shared by every room and
   * request, so reconnecting it would abort their calls in flight (over HTTP each call is a
   * request of its own, and a WebSocket client opens a new socket by itself).
   */
  reconnectAfterFailure?: boolean;
}

/** What the rooms expect from a failed append: DuplicateMessageError for a retried key. */
const asStoreError = (error: unknown) =>
  isDuplicateKey(error) && !(error instanceof DuplicateMessageError)
    ? new DuplicateMessageError(String(error))
    : error;

export class LibsqlStore implements Store {
  readonly db: LibSQLDatabase<typeof schema>;
  readonly #pragmas: readonly string[];
  readonly #reconnect: boolean;
  readonly #group: GroupCommit;
  /** The group commit's own connection, when it has one (local files). */
  readonly appendConnection: AppendConnection | undefined;
  readonly #loadReads: NativeReadConnection | undefined;
  /** Webhook endpoints, cursors and events (read by delivery). */
  readonly webhooks: LibsqlWebhookStore;
  /** Whose inbox listens, for the edge's conversation creation (party/host/inbox-listeners.ts). */
  readonly inboxListeners: LibsqlInboxListeners;

  constructor(
    readonly client: Client,
    options: LibsqlStoreOptions = {},
  ) {
    this.db = drizzle(client, { schema });
    this.inboxListeners = new LibsqlInboxListeners(this.db);
    this.#pragmas = options.pragmas ?? [];
    this.#reconnect = options.reconnectAfterFailure ?? false;
    this.appendConnection = options.appendConnection;
    this.#loadReads = options.loadReads;
    const connection = this.appendConnection;
    this.#group = new GroupCommit(
      connection
        ? (jobs) => connection.write(jobs)
        : (jobs) => this.#write(() => this.client.batch(insertStatements(jobs), "write")),
      options.schedule ?? ((fn) => setTimeout(fn, 0)),
      asStoreError,
      options.commitObserver,
    );
    // With a local file the lanes' cursors ride the group commit; a remote store (sqld, the edge)
    // writes each on its own, as before.
    const group = this.#group;
    this.webhooks = new LibsqlWebhookStore(
      client,
      connection ? (row) => group.appendCursors(row.app, row.conversationId, [row]) : undefined,
      options.loadReads,
    );
  }

  #write<T>(work: () => Promise<T>): Promise<T> {
    return this.#reconnect ? recoveringWrite(this.client, this.#pragmas, work) : work();
  }

  async loadConversation(app: string, id: string) {
    if (this.#loadReads) return this.#loadReads.loadConversation(app, id);
    const [row] = await this.db
      .select()
      .from(conversations)
      .where(and(eq(conversations.app, app), eq(conversations.id, id)));
    if (!row) return null;
    // Each member's unread count in the same read (a room loads both; one query, not two).
    const memberRows = await this.db
      .select({
        userId: members.userId,
        lastReadSeq: members.lastReadSeq,
        unread: sql<number>`(${UNREAD_OF_MEMBER_ROW})`,
      })
      .from(members)
      .where(and(eq(members.app, app), eq(members.conversationId, id)));
    const conversation: ConversationRecord = {
      id: row.id,
      title: row.title,
      lastSeq: row.lastSeq,
      createdAt: row.createdAt,
      lastActivityAt: row.lastActivityAt,
      messageCount: row.messageCount,
    };
    return {
      conversation,
      members: memberRows.map(({ userId, lastReadSeq }): MemberRecord => ({ userId, lastReadSeq })),
      unread: new Map(memberRows.map((r) => [r.userId, Number(r.unread)])),
    };
  }

  createConversation(app: string, conversation: ConversationRecord, memberIds: string[]) {
    return this.#write(() => this.#createConversation(app, conversation, memberIds));
  }

  async #createConversation(app: string, conversation: ConversationRecord, memberIds: string[]) {
    const [inserted] = await this.client.batch(
      createConversationStatements(app, conversation, memberIds),
      "write",
    );
    return inserted?.rowsAffected === 1;
  }

  async addMember(app: string, conversationId: string, userId: string, joinedAt: string) {
    await this.#write(() =>
      this.client.batch(addMemberStatements(app, conversationId, userId, joinedAt), "write"),
    );
  }

  async removeMember(app: string, conversationId: string, userId: string) {
    await this.#write(() =>
      this.client.batch(
        removeMemberStatements(app, conversationId, userId, new Date().toISOString()),
        "write",
      ),
    );
  }

  async findByClientIds(
    app: string,
    conversationId: string,
    keys: ReadonlyArray<{ senderId: string; clientMessageId: string }>,
  ) {
    if (keys.length === 0) return [];
    // One query per batch, by key; the sender is matched in memory (keys are per sender).
    const rows = await this.db
      .select(messageColumns)
      .from(messages)
      .where(
        and(
          eq(messages.app, app),
          eq(messages.conversationId, conversationId),
          inArray(messages.clientMessageId, [...new Set(keys.map((k) => k.clientMessageId))]),
        ),
      );
    const wanted = new Set(keys.map((k) => `${k.senderId}\u0000${k.clientMessageId}`));
    return rows.filter((r) => wanted.has(`${r.senderId}\u0000${r.clientMessageId}`)).map(toMessage);
  }

  /**
   * Queues a room's batch for the shared group commit (GroupCommit): the batches of every room
   * that arrive while a group gathers share one transaction.
   */
  appendEntries(app: string, conversationId: string, batch: CommitBatch): Promise<void> {
    if (batch.messages.length === 0 && batch.changes.length === 0 && batch.states.length === 0)
      return Promise.resolve();
    return this.#group.append({ app, conversationId, ...batch });
  }

  resumeAppends(app: string, conversationId: string): void {
    this.#group.release(app, conversationId);
  }

  async readRange(app: string, conversationId: string, query: RangeQuery) {
    if (query.maxBytes !== undefined)
      return this.#readRangeWithin(app, conversationId, query, query.maxBytes);
    const scope = and(eq(messages.app, app), eq(messages.conversationId, conversationId));
    if (query.after !== undefined) {
      const rows = await this.db
        .select(messageColumns)
        .from(messages)
        .where(and(scope, gt(messages.seq, query.after)))
        .orderBy(asc(messages.seq))
        .limit(query.limit);
      return rows.map(toMessage);
    }
    const rows = await this.db
      .select(messageColumns)
      .from(messages)
      .where(query.before === undefined ? scope : and(scope, lt(messages.seq, query.before)))
      .orderBy(desc(messages.seq))
      .limit(query.limit);
    return rows.reverse().map(toMessage);
  }

  /**
   * A page cut by size as well as count, in SQL, so a page of large messages is never read
   * whole: rows in page order while the bytes before them (body and meta) stay under
   * `maxBytes`; at least one row.
   */
  async #readRangeWithin(app: string, conversationId: string, query: RangeQuery, maxBytes: number) {
    const ascending = query.after !== undefined;
    const bound = ascending ? "AND seq > ?" : query.before === undefined ? "" : "AND seq < ?";
    const args: Array<string | number> = [app, conversationId];
    if (ascending) args.push(query.after as number);
    else if (query.before !== undefined) args.push(query.before);
    args.push(query.limit, maxBytes);
    const size = "(length(CAST(body AS BLOB)) + coalesce(length(CAST(meta AS BLOB)), 0))";
    const order = ascending ? "ASC" : "DESC";
    const result = await this.client.execute({
      // Every column toMessage reads: a page from the store shows reactions, edits and replies.
      sql: `SELECT ${MESSAGE_READ_COLUMNS} FROM (
              SELECT *, sum(${size}) OVER (ORDER BY seq ${order} ROWS UNBOUNDED PRECEDING) - ${size} AS before_bytes
              FROM (SELECT * FROM messages WHERE app = ? AND conversation_id = ? ${bound} ORDER BY seq ${order} LIMIT ?)
            ) WHERE before_bytes = 0 OR before_bytes < ? ORDER BY seq ASC`,
      args,
    });
    return result.rows.map((row) => toMessage(row as unknown as Parameters<typeof toMessage>[0]));
  }

  async readLog(app: string, conversationId: string, query: LogQuery): Promise<LogEntry[]> {
    if (this.#loadReads)
      return this.#loadReads.readLogAfter(app, conversationId, query.after, query.limit, query.maxBytes);
    return this.#logPage(app, conversationId, "after", query.after, query.limit, query.maxBytes);
  }

  async readLogTail(app: string, conversationId: string, limit: number): Promise<LogEntry[]> {
    if (this.#loadReads) return this.#loadReads.readLogTail(app, conversationId, limit);
    return this.#logPage(app, conversationId, "tail", 0, limit, undefined);
  }

  /**
   * Log entries from both tables in seq order: messages as they are now, changes with their
   * target's latest state. Cut by the bytes of message bodies and meta too (`maxBytes`).
   */
  async #logPage(
    app: string,
    conversationId: string,
    direction: "after" | "tail",
    after: number,
    limit: number,
    maxBytes: number | undefined,
  ): Promise<LogEntry[]> {
    const args: Array<string | number> = [];
    const scopeArgs = direction === "after" ? [app, conversationId, after] : [app, conversationId];
    args.push(...scopeArgs, ...scopeArgs, limit, maxBytes ?? Number.MAX_SAFE_INTEGER);
    const heads = await this.client.execute({ sql: logHeadsSql(direction), args });
    const seqs = heads.rows.map((r) => ({ seq: Number(r.seq), change: r.t === "c" }));
    return assembleLog(seqs, {
      changes: (changeSeqs) => this.#readChanges(app, conversationId, changeSeqs),
      messages: (wanted) => this.readMessages(app, conversationId, wanted),
    });
  }

  async #readChanges(app: string, conversationId: string, seqs: readonly number[]) {
    const result = await this.client.execute({
      sql: `SELECT * FROM changes WHERE app = ? AND conversation_id = ? AND seq IN (${seqs.map(() => "?").join(", ")})`,
      args: [app, conversationId, ...seqs],
    });
    return result.rows.map((row) => toChange(row as unknown as Record<string, unknown>));
  }

  async readMessages(app: string, conversationId: string, seqs: readonly number[]): Promise<Message[]> {
    if (seqs.length === 0) return [];
    const rows = await this.db
      .select(messageColumns)
      .from(messages)
      .where(
        and(
          eq(messages.app, app),
          eq(messages.conversationId, conversationId),
          inArray(messages.seq, [...seqs]),
        ),
      );
    return rows.map(toMessage);
  }

  async readReplies(
    app: string,
    conversationId: string,
    target: number,
    page: { after: number; limit: number },
  ) {
    const rows = await this.db
      .select(messageColumns)
      .from(messages)
      .where(
        and(
          eq(messages.app, app),
          eq(messages.conversationId, conversationId),
          eq(messages.replyTo, target),
          gt(messages.seq, page.after),
        ),
      )
      .orderBy(asc(messages.seq))
      .limit(page.limit);
    return rows.map(toMessage);
  }

  async setLastRead(app: string, conversationId: string, userId: string, seq: number) {
    // Through #write like every other write: an UPDATE refused with SQLITE_BUSY can stay "in
    // progress" on the connection, and the retry's UPDATE then answered success without being
    // committed (a loaded CI run: the retry got 204, the thread list still said 0).
    await this.#write(() =>
      this.db
        .update(members)
        .set({ lastReadSeq: sql`max(${members.lastReadSeq}, ${seq})` })
        .where(
          and(eq(members.app, app), eq(members.conversationId, conversationId), eq(members.userId, userId)),
        ),
    );
  }

  async countUnreadFor(
    app: string,
    conversationId: string,
    userId: string,
    afterSeq: number,
    upToSeq: number,
  ) {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)` })
      .from(messages)
      .where(
        and(
          eq(messages.app, app),
          eq(messages.conversationId, conversationId),
          gt(messages.seq, afterSeq),
          lte(messages.seq, upToSeq),
          sql`${messages.senderId} != ${userId}`,
          eq(messages.deleted, 0),
        ),
      );
    return Number(row?.n ?? 0);
  }

  async listThreads(app: string, userId: string, page: { limit: number; cursor?: ThreadCursor | undefined }) {
    const cursor = page.cursor;
    const rows = await this.db
      .select({
        id: conversations.id,
        title: conversations.title,
        lastSeq: conversations.lastSeq,
        lastActivityAt: conversations.lastActivityAt,
        lastReadSeq: members.lastReadSeq,
        memberIds: sql<string>`(SELECT json_group_array(x.user_id) FROM members x WHERE x.app = "members"."app" AND x.conversation_id = "members"."conversation_id")`,
        unread: sql<number>`(${UNREAD_OF_MEMBER_ROW})`,
        // In this statement, so it agrees with lastSeq and unread: a commit that lands before
        // the message itself is read cannot make the row show a newer message than it counts.
        lastMessageSeq: sql<
          number | null
        >`(SELECT max(x.seq) FROM messages x WHERE x.app = "members"."app" AND x.conversation_id = "members"."conversation_id")`,
      })
      .from(members)
      .innerJoin(
        conversations,
        and(eq(conversations.app, members.app), eq(conversations.id, members.conversationId)),
      )
      .where(
        and(
          eq(members.app, app),
          eq(members.userId, userId),
          cursor
            ? sql`(${conversations.lastActivityAt} < ${cursor.lastActivityAt} OR (${conversations.lastActivityAt} = ${cursor.lastActivityAt} AND ${conversations.id} < ${cursor.id}))`
            : undefined,
        ),
      )
      .orderBy(desc(conversations.lastActivityAt), desc(conversations.id))
      .limit(page.limit);
    const lastMessages = await this.lastMessages(
      app,
      rows.flatMap((r) => (r.lastMessageSeq === null ? [] : [{ id: r.id, seq: Number(r.lastMessageSeq) }])),
    );
    return rows.map((r): ThreadItem & { lastActivityAt: string } => ({
      id: r.id,
      title: r.title,
      members: JSON.parse(r.memberIds) as string[],
      lastSeq: r.lastSeq,
      lastReadSeq: r.lastReadSeq,
      unread: Number(r.unread),
      lastMessage: lastMessages.get(r.id) ?? null,
      lastActivityAt: r.lastActivityAt,
    }));
  }

  /** The given message of each conversation (its newest, as the thread row counted it). */
  private async lastMessages(app: string, wanted: ReadonlyArray<{ id: string; seq: number }>) {
    const found = new Map<string, Message>();
    if (wanted.length === 0) return found;
    const rows = await this.db
      .select(messageColumns)
      .from(messages)
      .where(
        and(
          eq(messages.app, app),
          or(...wanted.map((w) => and(eq(messages.conversationId, w.id), eq(messages.seq, w.seq)))),
        ),
      );
    for (const row of rows) found.set(row.conversationId, toMessage(row));
    return found;
  }

  async readProfiles(app: string, userIds: readonly string[]) {
    const found = new Map<string, Profile>();
    if (userIds.length === 0) return found;
    if (this.#loadReads) return this.#loadReads.readProfiles(app, [...new Set(userIds)]);
    const rows = await this.db
      .select({ userId: profiles.userId, name: profiles.name, picture: profiles.picture })
      .from(profiles)
      .where(and(eq(profiles.app, app), inArray(profiles.userId, [...new Set(userIds)])));
    for (const { userId, ...profile } of rows) found.set(userId, profile);
    return found;
  }

  async writeProfile(app: string, userId: string, patch: ProfilePatch, at: string): Promise<Profile> {
    const set: { name?: string | null; picture?: string | null; updatedAt: string } = { updatedAt: at };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.picture !== undefined) set.picture = patch.picture;
    // One statement: an upsert that touches only the fields the patch names.
    const [row] = await this.#write(() =>
      this.db
        .insert(profiles)
        .values({ app, userId, name: null, picture: null, ...set })
        .onConflictDoUpdate({ target: [profiles.app, profiles.userId], set })
        .returning({ name: profiles.name, picture: profiles.picture }),
    );
    return row ?? { name: null, picture: null };
  }

  async close() {
    this.appendConnection?.close();
    this.#loadReads?.close();
    this.client.close();
  }
}
