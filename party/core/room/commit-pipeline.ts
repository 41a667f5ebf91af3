/**
 * A room's commit pipeline: sends and changes wait here until they are durable. It keeps each
 * send's idempotency key while it is in flight (a retry joins the first attempt), plans
 * batches (seqs follow the last planned one; a change applies to the state its message will
 * have after every earlier entry), hands them to the store's group commit, and after each
 * commit tells the room, which acks and fans out. Up to MAX_BATCHES_IN_FLIGHT batches may be on
 * their way at once. When one fails, the store supersedes the room's later batches; the
 * pipeline waits for them to come back, re-plans from the store's truth, and sends them again,
 * so a failure never leaves a gap in the seqs. Everything waits on promises; nothing polls.
 */
import { CONFLICTING_KEY, idempotencyKey, sameContent } from "../content.ts";
import { ParleyError } from "../errors.ts";
import type { Limits } from "../limits.ts";
import type { LogFields, OnError } from "../log.ts";
import { isRewritten, markRewritten } from "../rewritten.ts";
import { type CommitBatch, DuplicateMessageError, type Store, SupersededBatchError } from "../store.ts";
import type { Change, LogEntry, Message, SendInput } from "../types.ts";
import { applyChange, type ChangeRequest } from "./message-changes.ts";
import { type Attendance, recipientsJson } from "./recipients.ts";
import type { RoomLog } from "./room-log.ts";

/**
 * How many of a room's batches may be on their way to the store at once. More than one lets a
 * room's sends join a group commit that is still gathering (measured: about 6% more durable
 * sends/s under `npm run bench`, interleaved runs); a few are enough for that.
 */
export const MAX_BATCHES_IN_FLIGHT = 4;

export interface SendResult {
  message: Message;
  /** False when the key was seen before (HTTP 200 instead of 201), or a change changed nothing. */
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
  onError: OnError;
}

/** What the pipeline tells the room. */
export interface PipelineListener {
  /**
   * Entries that just became durable, in seq order, each with its message's state just after
   * it (also after a resync found more), and the final states of the messages the batch
   * changed without an entry of their own (a reply's parent).
   */
  committed(entries: readonly LogEntry[], states: readonly Message[]): void;
  /** A send turned out to be a replay of a stored key (its rate-limit token goes back). */
  replayed(senderId: string): void;
  /**
   * Who is connected, when the app wants webhook recipients recorded (else undefined): asked
   * once per batch that has new messages.
   */
  attendance(): Attendance | undefined;
}

type Work =
  | {
      kind: "send";
      key: string;
      senderId: string;
      /** What is stored: the sender's input, or the pre-send hook's rewrite of it. */
      input: SendInput;
      /** What the sender sent, when the hook rewrote it: a retry is compared with this. */
      submitted?: SendInput | undefined;
    }
  | { kind: "change"; request: ChangeRequest };

/**
 * A send or change waiting to be durable, and its caller's promise. A class rather than a
 * literal of closures: one is made per send, and each closure was an allocation (and, under tsx,
 * a `__name` call) on the path every message takes.
 */
class Pending {
  readonly promise: Promise<SendResult>;
  #resolve!: (result: SendResult) => void;
  #reject!: (error: unknown) => void;

  constructor(
    readonly work: Work,
    /** Keeps the states this work reads (its target, its parent) in memory until it settles. */
    readonly release: () => void,
    /** The pipeline's sends in flight, which this one leaves when it settles. */
    private readonly inFlight: Map<string, Pending>,
  ) {
    this.promise = new Promise<SendResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  resolve(result: SendResult): void {
    this.#settled();
    this.#resolve(result);
  }

  reject(error: unknown): void {
    this.#settled();
    this.#reject(error);
  }

  #settled(): void {
    this.release();
    const work = this.work;
    if (work.kind === "send" && this.inFlight.get(work.key) === this) this.inFlight.delete(work.key);
  }
}

/** The release of work that pins nothing. */
const pinsNothing = () => {};

interface Plan {
  /** New entries, in seq order, with the work they answer. */
  entries: Array<{ pending: Pending; entry: LogEntry }>;
  /** Work answered without an entry: a stored key, a change that changed nothing. */
  answered: Array<{ pending: Pending; result: SendResult }>;
  /** Work refused at planning time (the state it applies to forbids it). */
  refused: Array<{ pending: Pending; error: unknown }>;
  batch: CommitBatch;
  /** Final states of messages changed without an entry of their own (reply parents). */
  states: Message[];
}

const conflict = () => new ParleyError("conflict", CONFLICTING_KEY);

const isEmpty = (batch: CommitBatch) => batch.messages.length === 0 && batch.changes.length === 0;

export class CommitPipeline {
  #pending: Pending[] = [];
  /** Sends queued or being committed, by key: a retry joins the first attempt. */
  #inFlight = new Map<string, Pending>();
  /** Batches handed to the store and not settled yet, oldest first. */
  #batches = new Set<Promise<void>>();
  /** The highest seq handed to the store, committed or not: the next batch follows it. */
  #plannedSeq = 0;
  /** Message states as planned batches leave them (not committed yet), with the seq that set each. */
  #plannedStates = new Map<number, { message: Message; seq: number }>();
  /** A batch failed: no new batch leaves until the room has re-planned (`#recover`). */
  #recovering = false;
  /** Work of batches the store superseded after that failure, in order: it goes out again. */
  #superseded: Pending[] = [];
  #flushScheduled = false;
  /** Set after a failed commit: memory may be behind the store until the next resync. */
  #stale = false;

  /** Where this pipeline's errors happened, for the log line. */
  get #where(): LogFields {
    return { app: this.app, conversationId: this.conversationId };
  }
  /** Waiting for the pipeline to be empty (`drained`). */
  #drainWaiters: Array<() => void> = [];

  constructor(
    private readonly app: string,
    private readonly conversationId: string,
    private readonly log: RoomLog,
    private readonly env: PipelineEnvironment,
    private readonly listener: PipelineListener,
  ) {}

  /** True while work is queued, being written, or being recovered. */
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
    return this.#known(idempotencyKey(senderId, input.clientMessageId), input);
  }

  /** `known` by a key already built (`submit` builds it once for both uses). */
  #known(key: string, input: SendInput): SendResult | Promise<SendResult> | undefined {
    const stored = this.log.known(key);
    if (stored) return CommitPipeline.sameOrConflict(stored, input);
    const inFlight = this.#inFlight.get(key);
    if (inFlight?.work.kind !== "send") return undefined;
    if (!sameContent(inFlight.work.submitted ?? inFlight.work.input, input)) throw conflict();
    return inFlight.promise.then(({ message }) => ({ message, created: false }));
  }

  /**
   * The answer for a stored message found by its key: itself, or 409 for other content. A
   * message that was edited or deleted since no longer shows what it was sent with: a retry of
   * its key is answered with it as it is now.
   */
  static sameOrConflict(stored: Message, input: SendInput): SendResult {
    // A message the hook rewrote does not show what it was sent with either.
    const changed = stored.editedAt !== undefined || stored.deleted === true || isRewritten(stored);
    if (!changed && !sameContent(stored, input)) throw conflict();
    return { message: stored, created: false };
  }

  /**
   * Queues a send; resolves once it is durable. A key that is already known or in flight is
   * answered as `known` does (never queued twice). `release` runs when it settles (it keeps a
   * reply's parent state in memory meanwhile). `rewrite` is what the pre-send hook made of
   * `input`: it is stored instead, and the message is marked rewritten.
   */
  submit(
    senderId: string,
    input: SendInput,
    release: () => void = pinsNothing,
    rewrite?: SendInput,
  ): Promise<SendResult> {
    const key = idempotencyKey(senderId, input.clientMessageId);
    const known = this.#known(key, input);
    if (known) {
      release();
      return Promise.resolve(known);
    }
    const work: Work = rewrite
      ? { kind: "send", key, senderId, input: rewrite, submitted: input }
      : { kind: "send", key, senderId, input };
    const pending = this.#queue(work, release);
    this.#inFlight.set(key, pending);
    return pending.promise;
  }

  /**
   * Queues a change to a message whose state memory holds (the room pinned it; `release` lets
   * go of it when the change settles). Resolves with the message's state once the change is
   * durable, or at once when it changes nothing.
   */
  submitChange(request: ChangeRequest, release: () => void): Promise<SendResult> {
    return this.#queue({ kind: "change", request }, release).promise;
  }

  #queue(work: Work, release: () => void): Pending {
    const pending = new Pending(work, release, this.#inFlight);
    this.#pending.push(pending);
    this.#scheduleFlush();
    return pending;
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
   * one is durable (its seqs follow this one's), so work that arrives while a group commit is
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
      .catch((error: unknown) => this.env.onError(error, "commit failed", this.#where))
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

  async #commit(batch: Pending[], laterBatches: () => Promise<void>[]): Promise<void> {
    let plan: Plan;
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
      this.env.onError(error, "store write failed", this.#where);
      const refusal = new ParleyError(
        "store_unavailable",
        "the message store is unavailable; nothing was acknowledged; retry (with the same clientMessageId for a send)",
        1,
      );
      for (const pending of batch) pending.reject(refusal);
      await this.#recover();
      return;
    }
    for (const { pending, result } of plan.answered) {
      // A replayed key does not count against the rate limit, but the room could not know it
      // was one (memory no longer held the key) and took a token for it.
      if (pending.work.kind === "send" && !result.created) this.listener.replayed(pending.work.senderId);
      pending.resolve(result);
    }
    for (const { pending, error } of plan.refused) pending.reject(error);
    if (plan.entries.length > 0) {
      const committedUpTo = (plan.entries.at(-1) as { entry: LogEntry }).entry;
      const last = committedUpTo.type === "message" ? committedUpTo.message.seq : committedUpTo.change.seq;
      for (const [seq, planned] of this.#plannedStates)
        if (planned.seq <= last) this.#plannedStates.delete(seq);
      this.listener.committed(
        plan.entries.map((e) => e.entry),
        plan.states,
      );
      for (const { pending, entry } of plan.entries)
        pending.resolve({ message: entry.message, created: true });
    }
    if (this.#recovering) await this.#recover();
  }

  /**
   * Plans a batch and writes it. Optimistic: no read before the write. The store's unique
   * index catches a retried key that memory no longer holds; then the keys are looked up and
   * the rest is planned and written once more. Any failure first waits for the room's later
   * batches to come back superseded, so the retry's seqs follow the last committed one.
   */
  async #write(batch: Pending[], laterBatches: () => Promise<void>[]): Promise<Plan> {
    let storedKeys = new Map<string, Message>();
    for (let attempt = 0; ; attempt++) {
      const plan = this.#plan(batch, storedKeys);
      if (isEmpty(plan.batch)) return plan;
      try {
        await this.env.store.appendEntries(this.app, this.conversationId, plan.batch);
        return plan;
      } catch (error) {
        if (error instanceof SupersededBatchError) throw error;
        this.#recovering = true;
        // The room's later batches were handed in with seqs after this one's: the store
        // supersedes them now; wait until they have come back before planning again.
        await Promise.allSettled(laterBatches());
        this.#plannedSeq = this.log.lastSeq;
        this.#plannedStates.clear();
        if (!(error instanceof DuplicateMessageError) || attempt > 0) throw error;
        storedKeys = await this.#lookupKeys(batch);
        this.env.store.resumeAppends(this.app, this.conversationId);
      }
    }
  }

  /**
   * Ends a recovery: memory catches up with the store, superseded work goes out first, appends
   * resume. If the store cannot be read yet, the room stays stale and the next batch resyncs
   * first (and is refused with 503 if it still cannot).
   */
  async #recover(): Promise<void> {
    if (this.#stale) {
      try {
        await this.#resync();
      } catch (error) {
        this.env.onError(error, "resync failed", this.#where);
      }
    }
    this.#plannedSeq = this.log.lastSeq;
    this.#plannedStates.clear();
    this.env.store.resumeAppends(this.app, this.conversationId);
    this.#recovering = false;
    this.#pending = [...this.#superseded, ...this.#pending];
    this.#superseded = [];
    if (this.#pending.length > 0) this.#scheduleFlush();
  }

  /** A message's state as the batches planned so far leave it. */
  #stateOf(seq: number): Message | undefined {
    return this.#plannedStates.get(seq)?.message ?? this.log.stateOf(seq);
  }

  /** Plans a batch: entries with their seqs and states, what is answered at once, what is refused. */
  #plan(batch: Pending[], storedKeys: Map<string, Message>): Plan {
    // Built here as plain arrays, handed to the store as the batch's read-only ones.
    const messages: Message[] = [];
    const changes: Change[] = [];
    const scrub: number[] = [];
    const plan: Plan = {
      entries: [],
      answered: [],
      refused: [],
      batch: { messages, changes, states: [], scrub },
      states: [],
    };
    const at = new Date(this.env.now()).toISOString();
    let seq = Math.max(this.log.lastSeq, this.#plannedSeq);
    /** Final states of existing messages this batch changes, by seq. */
    const changed = new Map<number, Message>();
    for (const pending of batch) {
      const work = pending.work;
      if (work.kind === "send") {
        // Memory too: a resync (or an earlier batch) may have learned the key since it was queued.
        const stored = storedKeys.get(work.key) ?? this.log.known(work.key);
        if (stored) {
          try {
            plan.answered.push({
              pending,
              result: CommitPipeline.sameOrConflict(stored, work.submitted ?? work.input),
            });
          } catch (error) {
            plan.refused.push({ pending, error });
          }
          continue;
        }
        const parentSeq = work.input.replyTo;
        const parent = parentSeq === undefined ? undefined : this.#stateOf(parentSeq);
        if (parentSeq !== undefined && !parent) {
          plan.refused.push({
            pending,
            error: new ParleyError("bad_request", `no message ${parentSeq} to reply to`),
          });
          continue;
        }
        seq++;
        const message: Message = {
          id: this.env.newMessageId(),
          conversationId: this.conversationId,
          seq,
          senderId: work.senderId,
          clientMessageId: work.input.clientMessageId,
          body: work.input.body,
          createdAt: at,
          reactions: {},
          replyCount: 0,
        };
        if (work.input.meta !== undefined) message.meta = work.input.meta;
        if (work.submitted) markRewritten(message);
        if (parent) {
          message.replyTo = parent.seq;
          this.#setState(changed, { ...parent, replyCount: parent.replyCount + 1 }, seq);
        }
        messages.push(message);
        plan.entries.push({ pending, entry: { type: "message", message } });
        continue;
      }
      const current = this.#stateOf(work.request.target);
      if (!current) {
        plan.refused.push({
          pending,
          error: new ParleyError("not_found", `no message ${work.request.target}`),
        });
        continue;
      }
      let outcome: ReturnType<typeof applyChange>;
      try {
        outcome = applyChange(current, work.request, at, this.env.limits);
      } catch (error) {
        plan.refused.push({ pending, error });
        continue;
      }
      if (outcome.kind === "noop") {
        plan.answered.push({ pending, result: { message: current, created: false } });
        continue;
      }
      seq++;
      const change: Change = { seq, ...outcome.change };
      this.#setState(changed, outcome.message, seq);
      if (change.kind === "delete") scrub.push(change.target);
      changes.push(change);
      plan.entries.push({ pending, entry: { type: "change", change, message: outcome.message } });
    }
    plan.batch.states = [...changed.values()];
    if (messages.length > 0) {
      const attendance = this.listener.attendance();
      if (attendance)
        plan.batch.recipients = new Map(messages.map((m) => [m.seq, recipientsJson(attendance, m.senderId)]));
    }
    // States the entries themselves do not carry: reply parents that no change of this batch touched.
    const carried = new Set(
      plan.entries.filter((e) => e.entry.type === "change").map((e) => e.entry.message.seq),
    );
    plan.states = plan.batch.states.filter((m) => !carried.has(m.seq));
    if (plan.entries.length > 0) this.#plannedSeq = seq;
    return plan;
  }

  /** A message's state as this batch leaves it (`seq`: the entry that set it), for later batches too. */
  #setState(changed: Map<number, Message>, message: Message, seq: number): void {
    changed.set(message.seq, message);
    this.#plannedStates.set(message.seq, { message, seq });
  }

  async #lookupKeys(batch: Pending[]): Promise<Map<string, Message>> {
    const sends = batch.flatMap((p) => (p.work.kind === "send" ? [p.work] : []));
    const rows = await this.env.store.findByClientIds(
      this.app,
      this.conversationId,
      sends.map((s) => ({ senderId: s.senderId, clientMessageId: s.input.clientMessageId })),
    );
    return new Map(rows.map((m) => [idempotencyKey(m.senderId, m.clientMessageId), m]));
  }

  /** After a failed commit: pick up anything the store has that memory does not. */
  async #resync(): Promise<void> {
    const landed: LogEntry[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      const after = this.log.lastSeq + landed.length;
      const page = await this.env.store.readLog(this.app, this.conversationId, {
        after,
        limit: this.env.limits.pageSize,
      });
      landed.push(...page);
      if (page.length < this.env.limits.pageSize) break;
    }
    this.#stale = false;
    if (landed.length > 0) this.listener.committed(landed, []);
  }
}
