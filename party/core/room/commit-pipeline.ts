/**
 * A room's commit pipeline: sends wait here until they are durable. It keeps each send's
 * idempotency key while it is in flight (a retry joins the first attempt), plans batches (seqs
 * follow the last planned one), hands them to the store's group commit, and after each commit
 * tells the room, which acks and fans out. Up to MAX_BATCHES_IN_FLIGHT batches may be on their
 * way at once. When one fails, the store supersedes the room's later batches; the pipeline
 * waits for them to come back, re-plans from the store's truth, and sends them again, so a
 * failure never leaves a gap in the seqs. Everything waits on promises; nothing polls.
 */
import { idempotencyKey, sameContent } from "../content.ts";
import { ParleyError } from "../errors.ts";
import type { Limits } from "../limits.ts";
import { DuplicateMessageError, type Store, SupersededBatchError } from "../store.ts";
import type { Message, SendInput } from "../types.ts";
import type { RoomLog } from "./room-log.ts";

/**
 * How many of a room's batches may be on their way to the store at once. More than one lets a
 * room's sends join a group commit that is still gathering (measured: about 6% more durable
 * sends/s under `npm run bench`, interleaved runs); a few are enough for that.
 */
export const MAX_BATCHES_IN_FLIGHT = 4;

export interface SendResult {
  message: Message;
  /** False when the key was seen before (HTTP 200 instead of 201). */
  created: boolean;
}

/** What the pipeline needs from the room's host. */
export interface PipelineEnvironment {
  store: Store;
  limits: Limits;
  now: () => number;
  /** Runs `fn` soon, after the I/O already queued: sends that arrive meanwhile share a batch. */
  defer: (fn: () => void) => void;
  newMessageId: () => string;
  onError: (error: unknown, context: string) => void;
}

/** What the pipeline tells the room. */
export interface PipelineListener {
  /** Messages that just became durable, in seq order (also after a resync found more). */
  committed(messages: readonly Message[]): void;
  /** A send turned out to be a replay of a stored key (its rate-limit token goes back). */
  replayed(senderId: string): void;
}

interface PendingSend {
  key: string;
  senderId: string;
  input: SendInput;
  promise: Promise<SendResult>;
  resolve: (result: SendResult) => void;
  reject: (error: unknown) => void;
}

interface CommitPlan {
  fresh: Array<{ entry: PendingSend; message: Message }>;
  stored: Array<{ entry: PendingSend; message: Message }>;
}

const conflict = () =>
  new ParleyError("conflict", "this clientMessageId was already used with a different body or meta");

export class CommitPipeline {
  #pending: PendingSend[] = [];
  /** Sends queued or being committed, by key: a retry joins the first attempt. */
  #inFlight = new Map<string, PendingSend>();
  /** Batches handed to the store and not settled yet, oldest first. */
  #batches = new Set<Promise<void>>();
  /** The highest seq handed to the store, committed or not: the next batch follows it. */
  #plannedSeq = 0;
  /** A batch failed: no new batch leaves until the room has re-planned (`#recover`). */
  #recovering = false;
  /** Sends of batches the store superseded after that failure, in order: they go out again. */
  #superseded: PendingSend[] = [];
  #flushScheduled = false;
  /** Set after a failed commit: memory may be behind the store until the next resync. */
  #stale = false;
  /** Waiting for the pipeline to be empty (`drained`). */
  #drainWaiters: Array<() => void> = [];

  constructor(
    private readonly app: string,
    private readonly conversationId: string,
    private readonly log: RoomLog,
    private readonly env: PipelineEnvironment,
    private readonly listener: PipelineListener,
  ) {}

  /** True while a send is queued, being written, or being recovered. */
  get busy(): boolean {
    return (
      this.#pending.length > 0 ||
      this.#batches.size > 0 ||
      this.#recovering ||
      this.#flushScheduled ||
      this.#superseded.length > 0
    );
  }

  /**
   * The answer for a key this room already knows (in its window, or in flight), decided at
   * once, without queueing anything; undefined when the key is new to memory. Synchronous on
   * purpose: a second send of the same key arriving in the same turn (two frames in one TCP
   * read) must see the first one in flight. 409 for the same key with other content.
   */
  known(senderId: string, input: SendInput): SendResult | Promise<SendResult> | undefined {
    const key = idempotencyKey(senderId, input.clientMessageId);
    const stored = this.log.known(key);
    if (stored) return CommitPipeline.sameOrConflict(stored, input);
    const inFlight = this.#inFlight.get(key);
    if (!inFlight) return undefined;
    if (!sameContent(inFlight.input, input)) throw conflict();
    return inFlight.promise.then(({ message }) => ({ message, created: false }));
  }

  /** The answer for a stored message found by its key: the same content, or 409. */
  static sameOrConflict(stored: Message, input: SendInput): SendResult {
    if (!sameContent(stored, input)) throw conflict();
    return { message: stored, created: false };
  }

  /**
   * Queues a send; resolves once it is durable. A key that is already known or in flight is
   * answered as `known` does (never queued twice).
   */
  submit(senderId: string, input: SendInput): Promise<SendResult> {
    const known = this.known(senderId, input);
    if (known) return Promise.resolve(known);
    const key = idempotencyKey(senderId, input.clientMessageId);
    let resolve!: (r: SendResult) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<SendResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: PendingSend = { key, senderId, input, promise, resolve, reject };
    this.#pending.push(entry);
    this.#inFlight.set(key, entry);
    this.#scheduleFlush();
    return promise;
  }

  /** Resolves once nothing is queued, in flight or recovering (a closing room waits here). */
  drained(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #settle(): void {
    if (this.busy) return;
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  /** Whether another batch may leave now. A stale room sends one at a time: it resyncs first. */
  #mayFlush(): boolean {
    if (this.#recovering) return false;
    return this.#batches.size < (this.#stale ? 1 : MAX_BATCHES_IN_FLIGHT);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || !this.#mayFlush()) return;
    this.#flushScheduled = true;
    this.env.defer(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /**
   * Hands everything pending to the store as one batch. The next batch may leave before this
   * one is durable (its seqs follow this one's), so sends that arrive while a group commit is
   * still gathering can join it; acks and fan-out still wait for each batch's commit.
   */
  #flush(): void {
    if (!this.#mayFlush() || this.#pending.length === 0) {
      this.#settle();
      return;
    }
    const batch = this.#pending;
    this.#pending = [];
    // `run` is read only after the batch's write has been awaited, by then it is in #batches.
    const run: Promise<void> = this.#commit(batch, () => this.#after(run))
      .catch((error: unknown) => this.env.onError(error, `commit in ${this.app}/${this.conversationId}`))
      .finally(() => {
        this.#batches.delete(run);
        if (this.#pending.length > 0) this.#scheduleFlush();
        this.#settle();
      });
    this.#batches.add(run);
  }

  /** The batches handed in after `run` (they follow its seqs). */
  #after(run: Promise<void>): Promise<void>[] {
    const later: Promise<void>[] = [];
    let seen = false;
    for (const batch of this.#batches) {
      if (seen) later.push(batch);
      else if (batch === run) seen = true;
    }
    return later;
  }

  async #commit(batch: PendingSend[], laterBatches: () => Promise<void>[]): Promise<void> {
    let plan: CommitPlan;
    try {
      if (this.#stale) await this.#resync();
      plan = await this.#write(batch, laterBatches);
    } catch (error) {
      if (error instanceof SupersededBatchError) {
        // An earlier batch failed and the store wrote none of this one: it goes out again,
        // re-planned, once the room has recovered.
        this.#superseded.push(...batch);
        return;
      }
      // The transaction may or may not have landed (a remote store can fail after commit):
      // resync from the store, and tell senders to retry.
      this.#stale = true;
      this.env.onError(error, `store write in ${this.app}/${this.conversationId}`);
      const refusal = new ParleyError(
        "store_unavailable",
        "the message store is unavailable; nothing was acknowledged; retry with the same clientMessageId",
        1,
      );
      for (const entry of batch) {
        if (this.#inFlight.get(entry.key) === entry) {
          this.#inFlight.delete(entry.key);
          entry.reject(refusal);
        }
      }
      await this.#recover();
      return;
    }
    for (const { entry, message } of plan.stored) {
      this.#inFlight.delete(entry.key);
      // A replayed key does not count against the rate limit, but the room could not know it
      // was one (memory no longer held the key) and took a token for it.
      this.listener.replayed(entry.senderId);
      if (sameContent(message, entry.input)) entry.resolve({ message, created: false });
      else entry.reject(conflict());
    }
    if (plan.fresh.length > 0) {
      const messages = plan.fresh.map((f) => f.message);
      for (const { entry } of plan.fresh) this.#inFlight.delete(entry.key);
      this.listener.committed(messages);
      for (const { entry, message } of plan.fresh) entry.resolve({ message, created: true });
    }
    if (this.#recovering) await this.#recover();
  }

  /**
   * Plans a batch and writes it. Optimistic: no read before the write. The store's unique
   * index catches a retried key that memory no longer holds; then the keys are looked up and
   * the rest is planned and written once more. Any failure first waits for the room's later
   * batches to come back superseded, so the retry's seqs follow the last committed one.
   */
  async #write(batch: PendingSend[], laterBatches: () => Promise<void>[]): Promise<CommitPlan> {
    let storedKeys = new Map<string, Message>();
    for (let attempt = 0; ; attempt++) {
      const plan = this.#plan(batch, storedKeys);
      const fresh = plan.fresh.map((f) => f.message);
      if (fresh.length === 0) return plan;
      this.#plannedSeq = (fresh.at(-1) as Message).seq;
      try {
        await this.env.store.appendMessages(this.app, this.conversationId, fresh);
        return plan;
      } catch (error) {
        if (error instanceof SupersededBatchError) throw error;
        this.#recovering = true;
        // The room's later batches were handed in with seqs after this one's: the store
        // supersedes them now; wait until they have come back before planning again.
        await Promise.allSettled(laterBatches());
        this.#plannedSeq = this.log.lastSeq;
        if (!(error instanceof DuplicateMessageError) || attempt > 0) throw error;
        storedKeys = await this.#lookupKeys(batch);
        this.env.store.resumeAppends(this.app, this.conversationId);
      }
    }
  }

  /**
   * Ends a recovery: memory catches up with the store, superseded sends go out first, appends
   * resume. If the store cannot be read yet, the room stays stale and the next batch resyncs
   * first (and is refused with 503 if it still cannot).
   */
  async #recover(): Promise<void> {
    if (this.#stale) {
      try {
        await this.#resync();
      } catch (error) {
        this.env.onError(error, `resync in ${this.app}/${this.conversationId}`);
      }
    }
    this.#plannedSeq = this.log.lastSeq;
    this.env.store.resumeAppends(this.app, this.conversationId);
    this.#recovering = false;
    this.#pending = [...this.#superseded, ...this.#pending];
    this.#superseded = [];
    if (this.#pending.length > 0) this.#scheduleFlush();
  }

  /** Splits a batch into keys already stored and new messages with their seqs. */
  #plan(batch: PendingSend[], storedKeys: Map<string, Message>): CommitPlan {
    const plan: CommitPlan = { fresh: [], stored: [] };
    const createdAt = new Date(this.env.now()).toISOString();
    let seq = Math.max(this.log.lastSeq, this.#plannedSeq);
    for (const entry of batch) {
      // Memory too: a resync (or an earlier batch) may have learned the key since it was queued.
      const stored = storedKeys.get(entry.key) ?? this.log.known(entry.key);
      if (stored) {
        plan.stored.push({ entry, message: stored });
        continue;
      }
      seq++;
      const message: Message = {
        id: this.env.newMessageId(),
        conversationId: this.conversationId,
        seq,
        senderId: entry.senderId,
        clientMessageId: entry.input.clientMessageId,
        body: entry.input.body,
        createdAt,
      };
      if (entry.input.meta !== undefined) message.meta = entry.input.meta;
      plan.fresh.push({ entry, message });
    }
    return plan;
  }

  async #lookupKeys(batch: PendingSend[]): Promise<Map<string, Message>> {
    const rows = await this.env.store.findByClientIds(
      this.app,
      this.conversationId,
      batch.map((e) => ({ senderId: e.senderId, clientMessageId: e.input.clientMessageId })),
    );
    return new Map(rows.map((m) => [idempotencyKey(m.senderId, m.clientMessageId), m]));
  }

  /** After a failed commit: pick up anything the store has that memory does not. */
  async #resync(): Promise<void> {
    const landed: Message[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      const after = this.log.lastSeq + landed.length;
      const page = await this.env.store.readRange(this.app, this.conversationId, {
        after,
        limit: this.env.limits.pageSize,
      });
      landed.push(...page);
      if (page.length < this.env.limits.pageSize) break;
    }
    this.#stale = false;
    if (landed.length > 0) this.listener.committed(landed);
  }
}
