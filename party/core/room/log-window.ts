/**
 * The room's window of recent log entries: contiguous seqs `firstSeq..lastSeq`, at most
 * `capacity` of them, messages and changes alike. Replay and history read here first and go to
 * the store only below it.
 */
import type { OutboundFrame } from "../outbound-frame.ts";
import type { Change, Message } from "../types.ts";

/** One entry of the window. A message's entry has no `change`; its target is its own seq. */
export interface WindowEntry {
  readonly seq: number;
  /** The message this entry created or changed. */
  readonly target: number;
  readonly change?: Change;
  /** A message's idempotency key (`idempotencyKey`), to forget when the entry leaves the window. */
  readonly key?: string;
  /** The entry's frame, encoded once for the target state it was encoded with. */
  cached?: { state: Message; frame: OutboundFrame };
}

export class LogWindow {
  /**
   * The entries from `#start` on. The slots before it are emptied as their entries leave: an
   * entry that fell out was kept, with its message and frame, until the next compaction, up to
   * 1,024 of them per room beyond the window's capacity (issue 17).
   */
  #items: Array<WindowEntry | undefined> = [];
  #start = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#items.length - this.#start;
  }

  /** Seq of the oldest entry, or undefined when empty. */
  get firstSeq(): number | undefined {
    return this.#items[this.#start]?.seq;
  }

  /**
   * Appends the next entry (its seq follows the last one); returns the entry that fell out, if
   * the window was full (one at most: entries come one at a time and the capacity is fixed).
   */
  push(entry: WindowEntry): WindowEntry | undefined {
    this.#items.push(entry);
    let evicted: WindowEntry | undefined;
    if (this.size > this.capacity) {
      evicted = this.#items[this.#start];
      this.#items[this.#start] = undefined;
      this.#start++;
    }
    // Compact now and then instead of shifting on every push.
    if (this.#start > 1024 && this.#start > this.#items.length / 2) {
      this.#items = this.#items.slice(this.#start);
      this.#start = 0;
    }
    return evicted;
  }

  /**
   * Up to `limit` entries with seq > `after`, or null when the window does not reach down to
   * `after + 1` (the caller must read the store).
   */
  after(after: number, limit: number): WindowEntry[] | null {
    const first = this.firstSeq;
    if (first === undefined || after + 1 < first) return null;
    const from = this.#start + (after + 1 - first);
    return this.#items.slice(from, from + limit) as WindowEntry[];
  }

  /**
   * The message entries (not changes) with seq > `after`, up to `limit` of them, or null when
   * the window does not reach down to `after + 1`.
   */
  messagesAfter(after: number, limit: number): WindowEntry[] | null {
    const first = this.firstSeq;
    if (first === undefined || after + 1 < first) return null;
    const found: WindowEntry[] = [];
    for (let i = this.#start + (after + 1 - first); i < this.#items.length && found.length < limit; i++) {
      const entry = this.#items[i] as WindowEntry;
      if (!entry.change) found.push(entry);
    }
    return found;
  }

  /**
   * The last `limit` message entries with seq < `before` (all entries when undefined), or null
   * when the window cannot tell for sure (the page reaches below it and it does not start at 1).
   */
  messagesBefore(before: number | undefined, limit: number): WindowEntry[] | null {
    const first = this.firstSeq;
    if (first === undefined) return null;
    const end =
      before === undefined
        ? this.#items.length
        : Math.min(this.#items.length, this.#start + Math.max(0, before - first));
    const found: WindowEntry[] = [];
    for (let i = end - 1; i >= this.#start && found.length < limit; i--) {
      const entry = this.#items[i] as WindowEntry;
      if (!entry.change) found.push(entry);
    }
    if (found.length < limit && first !== 1) return null;
    return found.reverse();
  }

  /** The entry at `seq`, when the window holds it. */
  at(seq: number): WindowEntry | undefined {
    const first = this.firstSeq;
    return first === undefined || seq < first ? undefined : this.#items[this.#start + (seq - first)];
  }

  /** Every entry, oldest first. */
  *entries(): Iterable<WindowEntry> {
    for (let i = this.#start; i < this.#items.length; i++) yield this.#items[i] as WindowEntry;
  }
}
