/**
 * Exactly-once, in-order delivery. It remembers the last seq delivered, drops anything at or
 * below it (a replay overlapping live frames, two transports during an upgrade), and when a
 * seq arrives ahead of the next expected one it holds it and fills the gap from history over
 * HTTP before delivering anything later. A catch-up ends with one `synced` once the cursor
 * reaches the transport's `synced.lastSeq`.
 */
import type { HistoryPage, Message } from "./types.ts";

export interface SequencerOptions {
  /** The last seq already delivered (undefined: start wherever the first `synced` says). */
  lastSeq: number | undefined;
  /** History after a seq (`GET …/messages?after=`). */
  fetchAfter: (after: number, limit: number) => Promise<HistoryPage>;
  deliver: (message: Message) => void;
  onSynced: (lastSeq: number) => void;
  /** Filling a gap failed even after retries: the session should resume from `lastSeq`. */
  onFillFailed: (error: unknown) => void;
}

/** Most messages held while a gap is filled; past it, later ones are dropped and refetched. */
const MAX_HELD = 10_000;
const FILL_PAGE = 200;
const FILL_ATTEMPTS = 3;

export class Sequencer {
  #lastSeq: number | undefined;
  #held = new Map<number, Message>();
  #filling = false;
  #syncTarget: number | undefined;
  #generation = 0;
  /** Messages dropped because their seq was already delivered (for tests and metrics). */
  duplicatesDropped = 0;

  constructor(private readonly opts: SequencerOptions) {
    this.#lastSeq = opts.lastSeq;
  }

  /** The last seq delivered, if known. */
  get lastSeq(): number | undefined {
    return this.#lastSeq;
  }

  /** Whether a gap fill is running. */
  get filling(): boolean {
    return this.#filling;
  }

  /** A message from any transport. */
  receive(message: Message): void {
    const seq = message.seq;
    if (this.#lastSeq === undefined) {
      // No cursor yet: the first message defines it only after `synced`; hold it until then.
      this.#hold(message);
      return;
    }
    if (seq <= this.#lastSeq || this.#held.has(seq)) {
      this.duplicatesDropped++;
      return;
    }
    if (seq === this.#lastSeq + 1 && !this.#filling) {
      this.#deliver(message);
      this.#drain();
      this.#checkSynced();
      return;
    }
    this.#hold(message);
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
   * it from there. Held messages at or below it belong to the old log and are dropped.
   */
  rewind(lastSeq: number): void {
    if (this.#lastSeq === undefined || lastSeq >= this.#lastSeq) return;
    this.#lastSeq = lastSeq;
    this.#syncTarget = undefined;
    for (const seq of [...this.#held.keys()]) if (seq <= lastSeq) this.#held.delete(seq);
    this.#generation++;
  }

  /** A new connection starts: a pending `synced` of the old one no longer counts. */
  reset(): void {
    this.#syncTarget = undefined;
    this.#generation++;
  }

  #hold(message: Message): void {
    if (this.#held.size >= MAX_HELD) return; // refetched by the next gap fill or resume
    this.#held.set(message.seq, message);
  }

  #deliver(message: Message): void {
    this.#lastSeq = message.seq;
    this.opts.deliver(message);
  }

  /** Delivers held messages that are now next in line. */
  #drain(): void {
    if (this.#lastSeq === undefined) return;
    for (let next = this.#held.get(this.#lastSeq + 1); next; next = this.#held.get(this.#lastSeq + 1)) {
      this.#held.delete(next.seq);
      this.#deliver(next);
    }
    for (const seq of this.#held.keys()) if (seq <= this.#lastSeq) this.#held.delete(seq);
  }

  #checkSynced(): void {
    const target = this.#syncTarget;
    if (target === undefined || this.#filling || this.#lastSeq === undefined) return;
    if (this.#lastSeq >= target) {
      this.#syncTarget = undefined;
      this.opts.onSynced(this.#lastSeq);
    }
  }

  /** Fetches history until the cursor reaches `upTo` (and any held message beyond it connects). */
  async #fill(upTo: number): Promise<void> {
    this.#filling = true;
    const generation = this.#generation;
    let target = upTo;
    try {
      for (let round = 0; round < 1000; round++) {
        const from = this.#lastSeq ?? 0;
        if (from >= target) {
          // Reached the target: is there another gap before the lowest held message?
          this.#drain();
          const lowest = Math.min(...this.#held.keys());
          if (!Number.isFinite(lowest) || lowest <= (this.#lastSeq ?? 0) + 1) break;
          target = lowest - 1;
          continue;
        }
        const page = await this.#fetchWithRetry(from, Math.min(FILL_PAGE, target - from));
        for (const m of page.messages) {
          if (this.#lastSeq !== undefined && m.seq === this.#lastSeq + 1) this.#deliver(m);
        }
        this.#drain();
        if (page.messages.length === 0 || (this.#lastSeq ?? 0) === from) {
          // The server has nothing there (yet): do not spin; a resume will fill it.
          throw new Error(`history after ${from} returned nothing to fill the gap up to ${target}`);
        }
      }
    } catch (error) {
      this.#filling = false;
      if (generation === this.#generation || this.#held.size > 0) this.opts.onFillFailed(error);
      return;
    }
    this.#filling = false;
    this.#drain();
    this.#checkSynced();
  }

  async #fetchWithRetry(after: number, limit: number): Promise<HistoryPage> {
    let lastError: unknown;
    for (let attempt = 0; attempt < FILL_ATTEMPTS; attempt++) {
      try {
        return await this.opts.fetchAfter(after, limit);
      } catch (error) {
        lastError = error;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
    throw lastError;
  }
}
