/**
 * The shared group commit: rooms hand in their batches, and every batch that arrives while a
 * group gathers is written in one transaction, so one commit (and one fsync) serves them all.
 * A room may hand in its next batch before the last one is durable; when one of its batches
 * fails, its later ones are superseded (not written) until the room resumes (`release`).
 */
import { SupersededBatchError } from "../party/core/store.ts";
import {
  type AppendOutcome,
  type AppendRows,
  commitGroup,
  conversationKey,
  isCursorJob,
} from "./append-rows.ts";
import type { CursorRow } from "./webhook-tables.ts";

/**
 * How long (ms) a group may keep gathering while batches keep arriving. Measured with
 * `npm run bench` (32 senders): ~18 messages per commit instead of ~12 and about 10% more
 * sends per second, with lower latency; waiting for a quiet period instead was slower.
 */
export const GATHER_MAX_MS = 1;
/** A group of this many rooms' batches commits without waiting for more. */
export const GATHER_MAX_JOBS = 256;

/** Milliseconds, finely where the runtime has `performance` (PartyKit's does not). */
const clock = (globalThis as { performance?: { now(): number } }).performance;
const now: () => number = typeof clock?.now === "function" ? () => clock.now() : () => Date.now();

/** What a host learns of each group commit that stored something (its metrics). */
export interface CommitObserver {
  /**
   * A group was committed: how many rooms' batches it held, the messages and changes they
   * stored, how long (ms) since its first batch was handed in, and how long the write itself
   * took (the transaction and its fsync). Failed batches are not counted.
   */
  committed(batches: number, messages: number, changes: number, latencyMs: number, writeMs: number): void;
}

interface Waiting {
  job: AppendRows;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  #queue: Waiting[] = [];
  #scheduled = false;
  /** When the gathering group's first batch arrived, and how many batches the last look saw. */
  #startedAt = 0;
  #seen = 0;
  #committing = false;
  /** Conversations whose batch failed: their appends are refused until `release`. */
  #fenced = new Set<string>();

  constructor(
    /** Stores the batches it is given in one transaction, or none of them (and throws). */
    private readonly write: (jobs: readonly AppendRows[]) => unknown,
    /** Runs a look at the group soon: Node passes setImmediate (one event-loop turn). */
    private readonly schedule: (fn: () => void) => void,
    /** Turns a failure into what the room expects (e.g. DuplicateMessageError). */
    private readonly asStoreError: (error: unknown) => unknown = (error) => error,
    /** Told of each commit (metrics); none: nothing is measured. */
    private readonly observer?: CommitObserver | undefined,
  ) {}

  /** Resolves once the batch is durable; rejects if its transaction failed. */
  append(job: AppendRows): Promise<void> {
    // The key is built only when some room is fenced: this runs for every room's every batch.
    if (this.#fenced.size > 0 && this.#fenced.has(conversationKey(job))) return Promise.reject(superseded());
    return this.#enqueue(job);
  }

  /**
   * Writes webhook cursors in the next group, beside whatever batches it holds (or alone when
   * none come): resolves once they are durable. A cursor is no room's batch, so a fenced
   * conversation does not refuse it and its failure fences nothing.
   */
  appendCursors(app: string, conversationId: string, cursors: readonly CursorRow[]): Promise<void> {
    return this.#enqueue({ app, conversationId, messages: [], changes: [], states: [], scrub: [], cursors });
  }

  #enqueue(job: AppendRows): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#queue.length === 0) this.#startedAt = now();
      this.#queue.push({ job, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      this.#seen = 0;
      this.schedule(() => this.#commitWhenGathered());
    });
  }

  /**
   * Commits now, unless batches are still arriving: a turn of the event loop that brought
   * more of them means requests are being parsed right now, and they can share this commit.
   * A quiet turn, GATHER_MAX_MS since the group's first batch or GATHER_MAX_JOBS ends the
   * gathering, so a lone send waits one turn, a busy relay commits at least once per
   * GATHER_MAX_MS, and a group that gathered behind a slow (remote) commit goes when it ends.
   */
  #commitWhenGathered(): void {
    // One commit at a time (a remote store's is asynchronous): a room's later batch must not
    // commit before an earlier one has. The running commit looks at the queue when it ends.
    if (this.#committing) return;
    const queued = this.#queue.length;
    const stillArriving = queued > this.#seen;
    const young = now() - this.#startedAt < GATHER_MAX_MS;
    if (stillArriving && young && queued < GATHER_MAX_JOBS) {
      this.#seen = queued;
      this.schedule(() => this.#commitWhenGathered());
      return;
    }
    void this.#commit();
  }

  async #commit(): Promise<void> {
    this.#scheduled = false;
    const group = this.#queue;
    const startedAt = this.#startedAt;
    this.#queue = [];
    if (group.length === 0) return;
    this.#committing = true;
    try {
      await this.#commitGroup(group, startedAt);
    } finally {
      this.#committing = false;
      // A look that ran during this commit left `#scheduled` set and its queue to this line.
      // What arrived meanwhile gathers as the next group; when nothing is left (a failure
      // superseded all of it), the flag must fall, or no later batch would ever be looked at.
      this.#scheduled = this.#queue.length > 0;
      if (this.#scheduled) {
        this.#seen = 0;
        this.schedule(() => this.#commitWhenGathered());
      }
    }
  }

  async #commitGroup(group: Waiting[], startedAt: number): Promise<void> {
    let outcomes: AppendOutcome[];
    const writeStart = this.observer ? now() : 0;
    try {
      outcomes = await commitGroup(
        (jobs) => this.write(jobs),
        group.map((w) => w.job),
      );
    } catch (error) {
      outcomes = group.map(() => ({ error }));
    }
    if (this.observer) this.#observe(group, outcomes, startedAt, writeStart);
    const failed = new Set<string>();
    group.forEach((w, i) => {
      const outcome = outcomes[i];
      if (isCursorJob(w.job)) {
        if (outcome === undefined) w.resolve();
        else w.reject(outcome.error);
        return;
      }
      // Keys only once something failed (most groups: never).
      if (failed.size > 0 && failed.has(conversationKey(w.job))) {
        w.reject(superseded());
      } else if (outcome === undefined) {
        w.resolve();
      } else {
        failed.add(conversationKey(w.job));
        w.reject(this.asStoreError(outcome.error));
      }
    });
    if (failed.size === 0) return;
    for (const key of failed) this.#fenced.add(key);
    // Their batches still gathering for the next group are superseded too.
    const kept: Waiting[] = [];
    for (const w of this.#queue) {
      if (!isCursorJob(w.job) && failed.has(conversationKey(w.job))) w.reject(superseded());
      else kept.push(w);
    }
    this.#queue = kept;
  }

  #observe(group: Waiting[], outcomes: AppendOutcome[], startedAt: number, writeStart: number): void {
    const end = now();
    let batches = 0;
    let messages = 0;
    let changes = 0;
    group.forEach((w, i) => {
      if (outcomes[i] !== undefined || isCursorJob(w.job)) return;
      batches++;
      messages += w.job.messages.length;
      changes += w.job.changes.length;
    });
    if (batches > 0) this.observer?.committed(batches, messages, changes, end - startedAt, end - writeStart);
  }

  /** The conversation's room re-planned after a failed batch: take its appends again. */
  release(app: string, conversationId: string): void {
    this.#fenced.delete(conversationKey({ app, conversationId }));
  }
}

const superseded = () =>
  new SupersededBatchError("an earlier batch of this conversation failed; plan it again");
