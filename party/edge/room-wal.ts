/**
 * A room's write-ahead log on the edge: the room's commits are acknowledged once they are in the
 * actor's own storage (the Durable Object's, next to the room), and flushed to libSQL behind it,
 * in order. libSQL still gets every entry; only the wait moves: a send's ack and its fan-out
 * pay a write to local storage, not a round trip to a database that may be in another region.
 *
 * It is the room's Store (`Store` for one conversation, in front of the shared libSQL store):
 *
 * - `appendEntries` writes the batch and its messages' idempotency keys to the actor's storage
 *   in one transaction, queues the batch for libSQL, and resolves. A key that is already stored
 *   (here, or in libSQL before this log existed: imported once, see `#indexKeys`) refuses the
 *   batch with DuplicateMessageError, as libSQL's unique index would.
 * - Every other read and write of this conversation first waits until libSQL has everything
 *   acknowledged so far ("reads through the room until the flush lands"), so history, `/log`,
 *   replies, unread counts and a room loaded after a wake see exactly what was acknowledged.
 *   While libSQL cannot be reached they fail at once, as a direct read would; sends go on.
 * - `afterFlush` runs work that reads libSQL on others' behalf (inbox thread frames, webhook
 *   delivery) once what was acknowledged before it has landed.
 *
 * The flush hands its batches to the libSQL store in order (pipelined, as a room does); a failed
 * one is retried with backoff after reading which batches landed (libSQL's lastSeq), so a batch
 * is never written twice nor skipped. After an eviction or a crash, the entries still in storage
 * are flushed by the next use of the room or by the actor's alarm (`wakeAt`), before the room
 * reads anything.
 */
import { idempotencyKey } from "../core/content.ts";
import { ParleyError } from "../core/errors.ts";
import type { OnError } from "../core/log.ts";
import {
  type CommitBatch,
  DuplicateMessageError,
  type LogQuery,
  type ProfilePatch,
  type RangeQuery,
  type Store,
  SupersededBatchError,
  type ThreadCursor,
} from "../core/store.ts";
import type { ConversationRecord } from "../core/types.ts";
import { deleteAll, getAll, putAll, type WalStorage } from "./wal-storage.ts";

/**
 * `wal:<last seq, zero-padded>:<part>` → a batch not yet known to be in libSQL, as JSON cut
 * into parts: a value of a Durable Object's storage holds at most 128 KiB, and a batch of a
 * busy room can be larger (the parts are written in one transaction, so all or none exist).
 */
const WAL_PREFIX = "wal:";
/** Characters per part (UTF-16: at most 64 KiB). */
const PART_CHARS = 32_000;
/** `key:<idempotency key>` → the message's seq, for every message of the conversation. */
const KEY_PREFIX = "key:";
/** The seq through which every message's key is under KEY_PREFIX. */
const INDEXED = "keys:through";
const RETRY_BASE_MS = 100;
/**
 * Failed flushes in a row before reads fail instead of waiting (about 0.7 s of retries): a
 * blip (a connection the server closed) costs a read some wait, a database away an error.
 */
const FAILURES_BEFORE_REFUSING = 3;
const RETRY_MAX_MS = 5_000;
/**
 * What the log may hold before libSQL has it (characters of JSON, ~16 MiB in memory): past it a
 * new batch is refused (503, retry), so a room whose database stays away cannot fill the
 * actor's memory (128 MiB on Cloudflare). At 100-byte messages, about 100,000 sends.
 */
export const MAX_UNFLUSHED_CHARS = 8_000_000;
/** A safety alarm when the log gets work: it flushes if the actor is evicted before it could. */
const GUARD_MS = 10_000;
/** Page size of the one-time import of older messages' keys from libSQL. */
const IMPORT_PAGE = 500;

const walKey = (last: number, part: number) =>
  `${WAL_PREFIX}${String(last).padStart(16, "0")}:${String(part).padStart(6, "0")}`;
const keyOf = (senderId: string, clientMessageId: string) =>
  `${KEY_PREFIX}${idempotencyKey(senderId, clientMessageId)}`;

interface WalRecord {
  batch: CommitBatch;
  /** The highest seq the batch writes. */
  last: number;
}

interface Queued extends WalRecord {
  /** Its parts' keys in the actor's storage. */
  keys: string[];
  /** Characters of its stored JSON (what it holds in memory and storage, roughly). */
  chars: number;
}

/** A batch as the parts it is stored in (its recipients map as pairs: JSON has no Map). */
function encode(record: WalRecord): Array<[string, string]> {
  const { recipients, ...rest } = record.batch;
  const json = JSON.stringify({ last: record.last, batch: rest, recipients: recipients && [...recipients] });
  const parts: Array<[string, string]> = [];
  for (let i = 0; i * PART_CHARS < json.length; i++)
    parts.push([walKey(record.last, i), json.slice(i * PART_CHARS, (i + 1) * PART_CHARS)]);
  return parts;
}

/** The batches the log holds, in seq order, from its parts. */
function decode(stored: Map<string, string>): Queued[] {
  const byBatch = new Map<string, Array<[string, string]>>();
  for (const [key, part] of stored) {
    const batchKey = key.slice(0, key.lastIndexOf(":"));
    const parts = byBatch.get(batchKey) ?? [];
    parts.push([key, part]);
    byBatch.set(batchKey, parts);
  }
  const found: Queued[] = [];
  for (const parts of byBatch.values()) {
    parts.sort(([a], [b]) => (a < b ? -1 : 1));
    const { last, batch, recipients } = JSON.parse(parts.map(([, p]) => p).join("")) as {
      last: number;
      batch: Omit<CommitBatch, "recipients">;
      recipients?: Array<[number, string]>;
    };
    found.push({
      last,
      batch: { ...batch, recipients: recipients && new Map(recipients) },
      keys: parts.map(([k]) => k),
      chars: parts.reduce((n, [, part]) => n + part.length, 0),
    });
  }
  return found.sort((a, b) => a.last - b.last);
}

export interface RoomWalOptions {
  onError: OnError;
  /** Asks the actor to run `flushPending` at `at` (ms since the epoch) unless it runs sooner. */
  wakeAt: (at: number) => void;
  now?: () => number;
  /** MAX_UNFLUSHED_CHARS unless given (tests). */
  maxUnflushedChars?: number;
}

function lastSeqOf(batch: CommitBatch): number | undefined {
  let last: number | undefined;
  for (const m of batch.messages) last = Math.max(last ?? m.seq, m.seq);
  for (const c of batch.changes) last = Math.max(last ?? c.seq, c.seq);
  return last;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RoomWal implements Store {
  /** Batches acknowledged and not yet known to be in libSQL, in seq order. */
  #queue: Queued[] = [];
  /** The queue's `chars`, summed. */
  #heldChars = 0;
  /** The highest seq acknowledged (in the log or in libSQL). */
  #ackedSeq = 0;
  /** The highest seq known to be in libSQL. */
  #flushedSeq = 0;
  #opening: Promise<void> | undefined;
  #opened = false;
  /** libSQL's lastSeq when the room was last loaded (the key index is checked against it). */
  #loadedSeq: number | undefined;
  #indexed = false;
  /** Flushes failed in a row: reads fail fast from FAILURES_BEFORE_REFUSING on, with this error. */
  #failure: unknown;
  #failures = 0;
  /** libSQL may hold some of the queue (a failure, or entries found after a wake). */
  #uncertain = false;
  #flushing = false;
  #closed = false;
  #retryMs = RETRY_BASE_MS;
  /** Until when the safety alarm set last covers the log. */
  #guardUntil = 0;
  /** Appends are chained: each batch is checked against the keys the ones before it stored. */
  #tail: Promise<void> = Promise.resolve();
  /** Refusing appends after a failed one, until `resumeAppends` (the Store contract). */
  #refusing = false;
  #waiters: Array<{ upTo: number; resolve: () => void; reject: (error: unknown) => void }> = [];
  #after: Array<{ upTo: number; run: () => void }> = [];
  readonly #now: () => number;

  constructor(
    private readonly inner: Store,
    private readonly storage: WalStorage,
    private readonly app: string,
    private readonly conversationId: string,
    private readonly options: RoomWalOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** Runs `work` once everything acknowledged so far is in libSQL (at once if it is). */
  afterFlush(work: () => void): void {
    if (this.#flushedSeq >= this.#ackedSeq) work();
    else this.#after.push({ upTo: this.#ackedSeq, run: work });
  }

  /**
   * The alarm's part: flushes what the log holds (after a wake, entries an evicted actor left).
   * Resolves to when to try again if libSQL could not take them, or undefined.
   */
  async flushPending(): Promise<number | undefined> {
    try {
      await this.#drained();
      return undefined;
    } catch {
      return this.#now() + this.#retryMs;
    }
  }

  // ---- the log --------------------------------------------------------------------------

  /** Reads what an earlier instance of the actor left in the log, once. */
  #open(): Promise<void> {
    if (this.#opened) return Promise.resolve();
    this.#opening ??= this.storage.list<string>({ prefix: WAL_PREFIX }).then(
      (stored) => {
        const found = decode(stored);
        if (found.length > 0) {
          this.#queue = [...found, ...this.#queue];
          for (const item of found) this.#heldChars += item.chars;
          this.#ackedSeq = Math.max(this.#ackedSeq, (found.at(-1) as Queued).last);
          this.#uncertain = true;
          this.options.onError(
            new Error(`${found.length} batches of the room's log were not yet in libSQL`),
            "flushing the log an earlier instance left",
            { app: this.app, conversationId: this.conversationId },
          );
          void this.#flush();
        }
        this.#opened = true;
        this.#opening = undefined;
      },
      (error: unknown) => {
        this.#opening = undefined;
        throw error;
      },
    );
    return this.#opening;
  }

  /**
   * Resolves once libSQL has everything acknowledged before the call; fails while it cannot
   * take it (after FAILURES_BEFORE_REFUSING flushes failed in a row).
   */
  async #drained(): Promise<void> {
    await this.#open();
    if (this.#flushedSeq >= this.#ackedSeq && this.#queue.length === 0) return;
    if (this.#failure !== undefined && !this.#flushing) void this.#flush();
    if (this.#failure !== undefined) throw this.#failure;
    const upTo = this.#ackedSeq;
    await new Promise<void>((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
  }

  appendEntries(app: string, conversationId: string, batch: CommitBatch): Promise<void> {
    this.#assertMine(app, conversationId);
    const run = this.#tail.then(() => this.#append(batch));
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  resumeAppends(app: string, conversationId: string): void {
    this.#assertMine(app, conversationId);
    this.#refusing = false;
  }

  async #append(batch: CommitBatch): Promise<void> {
    if (this.#refusing) throw new SupersededBatchError("an earlier batch of this room failed");
    const last = lastSeqOf(batch);
    if (last === undefined) return;
    try {
      await this.#open();
      await this.#indexKeys();
      const keys = batch.messages.map((m) => keyOf(m.senderId, m.clientMessageId));
      if (keys.length > 0 && (await getAll(this.storage, keys)).size > 0)
        throw new DuplicateMessageError("a message of this batch is already stored");
      const record: WalRecord = { batch, last };
      const parts = encode(record);
      const chars = parts.reduce((n, [, part]) => n + part.length, 0);
      if (this.#heldChars + chars > (this.options.maxUnflushedChars ?? MAX_UNFLUSHED_CHARS))
        throw new ParleyError(
          "store_unavailable",
          "the message store is unavailable and this conversation's backlog is full; nothing was acknowledged; retry",
          5,
        );
      await putAll(this.storage, [
        ...parts,
        [INDEXED, last],
        ...keys.map((k, i) => [k, (batch.messages[i] as { seq: number }).seq] as [string, unknown]),
      ]);
      this.#ackedSeq = last;
      this.#queue.push({ ...record, keys: parts.map(([k]) => k), chars });
      this.#heldChars += chars;
      // The safety alarm, at most about once per GUARD_MS/2 (setting it is a storage write too).
      const now = this.#now();
      if (this.#queue.length === 1 && now > this.#guardUntil - GUARD_MS / 2) {
        this.#guardUntil = now + GUARD_MS;
        this.options.wakeAt(this.#guardUntil);
      }
      void this.#flush();
    } catch (error) {
      this.#refusing = true;
      throw error;
    }
  }

  /**
   * Every message's key is in the actor's storage before the log takes a batch. Messages
   * committed without this log (before it was turned on, or with it off) are imported from
   * libSQL once; a libSQL that went back (restored from a backup) has the index rebuilt.
   */
  async #indexKeys(): Promise<void> {
    if (this.#indexed) return;
    const dbSeq =
      this.#loadedSeq ??
      (await this.loadConversation(this.app, this.conversationId))?.conversation.lastSeq ??
      0;
    let through = (await this.storage.get<number>([INDEXED])).get(INDEXED) ?? 0;
    if (through > dbSeq) {
      const stale = await this.storage.list({ prefix: KEY_PREFIX });
      await deleteAll(this.storage, [...stale.keys()]);
      through = 0;
    }
    for (let page = 0; through < dbSeq && page <= Math.ceil(dbSeq / IMPORT_PAGE); page++) {
      const entries = await this.inner.readLog(this.app, this.conversationId, {
        after: through,
        limit: IMPORT_PAGE,
      });
      if (entries.length === 0) break;
      const keys: Array<[string, unknown]> = [];
      for (const entry of entries)
        if (entry.type === "message")
          keys.push([keyOf(entry.message.senderId, entry.message.clientMessageId), entry.message.seq]);
      const lastEntry = entries.at(-1) as (typeof entries)[number];
      through = lastEntry.type === "message" ? lastEntry.message.seq : lastEntry.change.seq;
      await putAll(this.storage, [...keys, [INDEXED, through]]);
    }
    this.#indexed = true;
  }

  // ---- the flush ----------------------------------------------------------------------------

  /** Hands the queue to libSQL in order until it is empty; retries a failure with backoff. */
  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        try {
          if (this.#uncertain) {
            await this.#skipLanded();
            this.inner.resumeAppends(this.app, this.conversationId);
            this.#uncertain = false;
          }
          const items = [...this.#queue];
          const writes = items.map((item) =>
            this.inner.appendEntries(this.app, this.conversationId, item.batch),
          );
          for (let i = 0; i < items.length; i++) {
            try {
              await writes[i];
            } catch (error) {
              await Promise.allSettled(writes.slice(i + 1));
              throw error;
            }
            this.#landed(items[i] as Queued);
          }
          this.#failure = undefined;
          this.#failures = 0;
          this.#retryMs = RETRY_BASE_MS;
        } catch (error) {
          this.#failed(error);
          await sleep(this.#retryMs);
          this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #failed(error: unknown): void {
    this.#uncertain = true;
    if (++this.#failures >= FAILURES_BEFORE_REFUSING) {
      this.#failure = error;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    }
    this.options.onError(error, "flushing the room's log to libSQL failed; retrying", {
      app: this.app,
      conversationId: this.conversationId,
      pending: this.#queue.length,
    });
    this.options.wakeAt(this.#now() + this.#retryMs);
  }

  /** After a failure: the batches libSQL took (its lastSeq covers them) leave the queue. */
  async #skipLanded(): Promise<void> {
    const loaded = await this.inner.loadConversation(this.app, this.conversationId);
    const dbSeq = loaded?.conversation.lastSeq ?? 0;
    while (this.#queue.length > 0 && (this.#queue[0] as Queued).last <= dbSeq)
      this.#landed(this.#queue[0] as Queued);
  }

  /** The head of the queue is in libSQL. */
  #landed(item: Queued): void {
    if (this.#queue[0] === item) {
      this.#queue.shift();
      this.#heldChars -= item.chars;
    }
    this.#flushedSeq = Math.max(this.#flushedSeq, item.last);
    deleteAll(this.storage, item.keys).catch((error: unknown) =>
      this.options.onError(error, "dropping a flushed batch from the room's log failed", {
        app: this.app,
        conversationId: this.conversationId,
      }),
    );
    const done = this.#queue.length === 0 ? Number.POSITIVE_INFINITY : this.#flushedSeq;
    const released = this.#waiters.filter((w) => w.upTo <= done);
    this.#waiters = this.#waiters.filter((w) => w.upTo > done);
    for (const w of released) w.resolve();
    const ready = this.#after.filter((a) => a.upTo <= done);
    this.#after = this.#after.filter((a) => a.upTo > done);
    for (const a of ready) a.run();
  }

  #assertMine(app: string, conversationId: string): void {
    if (app !== this.app || conversationId !== this.conversationId)
      throw new Error(
        `the log of ${this.app}:${this.conversationId} was asked about ${app}:${conversationId}`,
      );
  }

  /** A read or write of this conversation in libSQL, once everything acknowledged is there. */
  async #through<T>(app: string, conversationId: string, call: () => Promise<T>): Promise<T> {
    this.#assertMine(app, conversationId);
    try {
      await this.#drained();
    } catch {
      // The flush's own error is logged where it failed; the caller gets the retryable refusal.
      throw new ParleyError(
        "store_unavailable",
        "the message store is unavailable (the room's log has not reached it yet); retry",
        1,
      );
    }
    return call();
  }

  // ---- the rest of the Store: through libSQL -------------------------------------------------

  async loadConversation(app: string, id: string) {
    const loaded = await this.#through(app, id, () => this.inner.loadConversation(app, id));
    this.#loadedSeq = loaded?.conversation.lastSeq ?? 0;
    this.#ackedSeq = Math.max(this.#ackedSeq, this.#loadedSeq);
    this.#flushedSeq = Math.max(this.#flushedSeq, this.#loadedSeq);
    return loaded;
  }
  createConversation(app: string, conversation: ConversationRecord, memberIds: string[]) {
    return this.inner.createConversation(app, conversation, memberIds);
  }
  addMember(app: string, conversationId: string, userId: string, joinedAt: string) {
    return this.#through(app, conversationId, () =>
      this.inner.addMember(app, conversationId, userId, joinedAt),
    );
  }
  removeMember(app: string, conversationId: string, userId: string) {
    return this.#through(app, conversationId, () => this.inner.removeMember(app, conversationId, userId));
  }
  findByClientIds(
    app: string,
    conversationId: string,
    keys: ReadonlyArray<{ senderId: string; clientMessageId: string }>,
  ) {
    return this.#through(app, conversationId, () => this.inner.findByClientIds(app, conversationId, keys));
  }
  readRange(app: string, conversationId: string, query: RangeQuery) {
    return this.#through(app, conversationId, () => this.inner.readRange(app, conversationId, query));
  }
  readLog(app: string, conversationId: string, query: LogQuery) {
    return this.#through(app, conversationId, () => this.inner.readLog(app, conversationId, query));
  }
  readLogTail(app: string, conversationId: string, limit: number) {
    return this.#through(app, conversationId, () => this.inner.readLogTail(app, conversationId, limit));
  }
  readMessages(app: string, conversationId: string, seqs: readonly number[]) {
    return this.#through(app, conversationId, () => this.inner.readMessages(app, conversationId, seqs));
  }
  readReplies(app: string, conversationId: string, target: number, page: { after: number; limit: number }) {
    return this.#through(app, conversationId, () =>
      this.inner.readReplies(app, conversationId, target, page),
    );
  }
  /** A read position moves forward only and counts nothing: it need not wait for the flush. */
  setLastRead(app: string, conversationId: string, userId: string, seq: number) {
    return this.inner.setLastRead(app, conversationId, userId, seq);
  }
  countUnreadFor(app: string, conversationId: string, userId: string, afterSeq: number, upToSeq: number) {
    return this.#through(app, conversationId, () =>
      this.inner.countUnreadFor(app, conversationId, userId, afterSeq, upToSeq),
    );
  }
  listThreads(app: string, userId: string, page: { limit: number; cursor?: ThreadCursor | undefined }) {
    return this.inner.listThreads(app, userId, page);
  }
  readProfiles(app: string, userIds: readonly string[]) {
    return this.inner.readProfiles(app, userIds);
  }
  writeProfile(app: string, userId: string, patch: ProfilePatch, at: string) {
    return this.inner.writeProfile(app, userId, patch, at);
  }
  /**
   * Stops flushing (what is still in the log stays there for the next instance). The libSQL
   * store is the isolate's, shared by every room, and stays open.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Error("the room's log was closed");
    for (const waiter of this.#waiters.splice(0)) waiter.reject(closed);
  }
}
