/**
 * Exactly-once, in-order delivery of the conversation log: messages and changes (edits,
 * deletions, reactions) share one seq. It remembers the last seq delivered, drops anything at
 * or below it (a replay overlapping live frames, two transports during an upgrade), and when a
 * seq arrives ahead of the next expected one it holds it and fills the gap from the log over
 * HTTP (`GET …/log`) before delivering anything later. A catch-up ends with one `synced` once
 * the cursor reaches the transport's `synced.lastSeq`.
 *
 * It also remembers which entry each recent seq was (`entryKey`), so that a resume can check
 * the relay still has the same entry there: a relay restored from an older backup hands the
 * old seqs out again to new entries, and a log that has grown past the cursor once more cannot
 * be told from the right one by its seqs alone (`diverged`).
 */
import type { LogEntry, LogPage } from "./types.ts";

export interface SequencerOptions {
  /** The last seq already delivered (undefined: start wherever the first `synced` says). */
  lastSeq: number | undefined;
  /** The log after a seq (`GET …/log?after=`). */
  fetchAfter: (after: number, limit: number) => Promise<LogPage>;
  deliver: (entry: LogEntry) => void;
  onSynced: (lastSeq: number) => void;
  /** Filling a gap failed even after retries: the session should resume from `lastSeq`. */
  onFillFailed: (error: unknown) => void;
  /**
   * After `diverged()`: entries up to `lastSeq` are the ones delivered before; those above it
   * (up to `previousLastSeq`, delivered before) were replaced, and come again next.
   */
  onDiverged?: (lastSeq: number, previousLastSeq: number) => void;
}

/** The seq of a log entry: the message's for a new message, the change's for a change. */
export const entrySeq = (entry: LogEntry): number =>
  entry.type === "change" ? entry.change.seq : entry.message.seq;

/**
 * Which entry a seq holds: a message's id (random, made by the relay) or a change's kind,
 * target and time. Two logs that agree on a seq's key agree on the entry.
 */
export const entryKey = (entry: LogEntry): string =>
  entry.type === "change"
    ? `c:${entry.change.kind}:${entry.change.target}:${entry.change.at}:${entry.change.userId ?? ""}`
    : `m:${entry.message.id}`;

/** How many recent entries' keys are remembered (the reach of a divergence check). */
const KEYS_KEPT = 256;

/** Most entries held while a gap is filled; past it, later ones are dropped and refetched. */
const MAX_HELD = 10_000;
const FILL_PAGE = 200;
const FILL_ATTEMPTS = 3;

export class Sequencer {
  #lastSeq: number | undefined;
  #held = new Map<number, LogEntry>();
  #filling = false;
  #syncTarget: number | undefined;
  #generation = 0;
  /** Keys of the last KEYS_KEPT entries delivered, by seq (ascending). */
  #keys = new Map<number, string>();
  /** While re-reading after a divergence: what was delivered up to `upTo`, to skip what matches. */
  #verify: { upTo: number; keys: Map<number, string> } | undefined;
  /** Entries dropped because their seq was already delivered (for tests and metrics). */
  duplicatesDropped = 0;

  readonly #opts: SequencerOptions;

  constructor(opts: SequencerOptions) {
    this.#opts = opts;
    this.#lastSeq = opts.lastSeq;
  }

  /** The last seq delivered, if known. */
  get lastSeq(): number | undefined {
    return this.#lastSeq;
  }

  /** The key of the entry delivered at `seq`, while it is among the last remembered. */
  keyAt(seq: number): string | undefined {
    return this.#keys.get(seq);
  }

  /**
   * The relay holds another entry at the cursor than the one delivered (a restore from an older
   * backup, then new entries under the old seqs). Re-read the log from the oldest remembered
   * entry: entries that match what was delivered are skipped, and the first that differs is
   * reported with `onDiverged` before it is delivered.
   */
  diverged(): void {
    const upTo = this.#lastSeq;
    const oldest = this.#keys.keys().next();
    if (upTo === undefined || oldest.done) return;
    const keys = new Map(this.#keys);
    this.rewind(oldest.value - 1);
    this.#verify = { upTo, keys };
  }

  /** A log entry (a message or a change) from any transport. */
  receive(entry: LogEntry): void {
    const seq = entrySeq(entry);
    if (this.#lastSeq === undefined) {
      // No cursor yet: the first entry defines it only after `synced`; hold it until then.
      this.#hold(entry);
      return;
    }
    if (seq <= this.#lastSeq || this.#held.has(seq)) {
      this.duplicatesDropped++;
      return;
    }
    if (seq === this.#lastSeq + 1 && !this.#filling) {
      this.#deliver(entry);
      this.#drain();
      this.#checkSynced();
      return;
    }
    this.#hold(entry);
    if (!this.#filling) void this.#fill(seq - 1);
  }

  /** The transport finished its replay: it had everything up to `lastSeq`. */
  synced(lastSeq: number): void {
    if (this.#lastSeq === undefined) {
      // Started "from now": everything at or below lastSeq is history, not news.
      this.#lastSeq = lastSeq;
      for (const seq of [...this.#held.keys()]) if (seq <= lastSeq) this.#held.delete(seq);
      this.#drain();
    }
    this.#syncTarget = lastSeq;
    if (this.#lastSeq < lastSeq && !this.#filling) void this.#fill(lastSeq);
    this.#checkSynced();
  }

  /**
   * The relay's log ends at `lastSeq`, below the cursor (a wiped or restored database): follow
   * it from there. Held entries at or below it belong to the old log and are dropped.
   */
  rewind(lastSeq: number): void {
    if (this.#lastSeq === undefined || lastSeq >= this.#lastSeq) return;
    this.#lastSeq = lastSeq;
    this.#syncTarget = undefined;
    for (const seq of [...this.#held.keys()]) if (seq <= lastSeq) this.#held.delete(seq);
    for (const seq of [...this.#keys.keys()]) if (seq > lastSeq) this.#keys.delete(seq);
    this.#verify = undefined;
    this.#generation++;
  }

  /** A new connection starts: a pending `synced` of the old one no longer counts. */
  reset(): void {
    this.#syncTarget = undefined;
    this.#generation++;
  }

  #hold(entry: LogEntry): void {
    if (this.#held.size >= MAX_HELD) return; // refetched by the next gap fill or resume
    this.#held.set(entrySeq(entry), entry);
  }

  #deliver(entry: LogEntry): void {
    const seq = entrySeq(entry);
    const key = entryKey(entry);
    this.#lastSeq = seq;
    this.#keys.delete(seq);
    this.#keys.set(seq, key);
    if (this.#keys.size > KEYS_KEPT) this.#keys.delete(this.#keys.keys().next().value as number);
    const verify = this.#verify;
    if (verify) {
      // Re-reading after a divergence: the same entry as before is not news.
      if (seq <= verify.upTo && verify.keys.get(seq) === key) return;
      this.#verify = undefined;
      this.#opts.onDiverged?.(seq - 1, verify.upTo);
    }
    this.#opts.deliver(entry);
  }

  /** Delivers held entries that are now next in line. */
  #drain(): void {
    if (this.#lastSeq === undefined) return;
    for (let next = this.#held.get(this.#lastSeq + 1); next; next = this.#held.get(this.#lastSeq + 1)) {
      this.#held.delete(this.#lastSeq + 1);
      this.#deliver(next);
    }
    for (const seq of this.#held.keys()) if (seq <= this.#lastSeq) this.#held.delete(seq);
  }

  #checkSynced(): void {
    const target = this.#syncTarget;
    if (target === undefined || this.#filling || this.#lastSeq === undefined) return;
    if (this.#lastSeq >= target) {
      this.#syncTarget = undefined;
      this.#opts.onSynced(this.#lastSeq);
    }
  }

  /** Reads the log until the cursor reaches `upTo` (and any held entry beyond it connects). */
  async #fill(upTo: number): Promise<void> {
    this.#filling = true;
    const generation = this.#generation;
    let target = upTo;
    try {
      for (let round = 0; round < 1000; round++) {
        const from = this.#lastSeq ?? 0;
        if (from >= target) {
          // Reached the target: is there another gap before the lowest held entry?
          this.#drain();
          const lowest = Math.min(...this.#held.keys());
          if (!Number.isFinite(lowest) || lowest <= (this.#lastSeq ?? 0) + 1) break;
          target = lowest - 1;
          continue;
        }
        const page = await this.#fetchWithRetry(from, Math.min(FILL_PAGE, target - from));
        for (const entry of page.entries) {
          if (this.#lastSeq !== undefined && entrySeq(entry) === this.#lastSeq + 1) this.#deliver(entry);
        }
        this.#drain();
        if (page.entries.length === 0 || (this.#lastSeq ?? 0) === from) {
          // The relay has nothing there (yet): do not spin; a resume will fill it.
          throw new Error(`the log after ${from} returned nothing to fill the gap up to ${target}`);
        }
      }
    } catch (error) {
      this.#filling = false;
      if (generation === this.#generation || this.#held.size > 0) this.#opts.onFillFailed(error);
      return;
    }
    this.#filling = false;
    this.#drain();
    this.#checkSynced();
  }

  async #fetchWithRetry(after: number, limit: number): Promise<LogPage> {
    let lastError: unknown;
    for (let attempt = 0; attempt < FILL_ATTEMPTS; attempt++) {
      try {
        return await this.#opts.fetchAfter(after, limit);
      } catch (error) {
        lastError = error;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
    throw lastError;
  }
}
