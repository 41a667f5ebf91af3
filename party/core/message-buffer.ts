import { frames, type OutboundFrame } from "./outbound-frame.ts";
import type { Message } from "./types.ts";

/** A buffered message with its frame, encoded once for fan-out and for every replay after. */
export interface BufferedMessage {
  message: Message;
  frame: OutboundFrame;
}

/**
 * The room's ordered window of recent messages: contiguous seqs `firstSeq..lastSeq`, at most
 * `capacity` of them. Resume and history read here first and go to the store only below it.
 */
export class MessageBuffer {
  #items: BufferedMessage[] = [];
  #start = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#items.length - this.#start;
  }

  /** Seq of the oldest buffered message, or undefined when empty. */
  get firstSeq(): number | undefined {
    return this.#items[this.#start]?.message.seq;
  }

  /**
   * Appends the next message (its seq must follow the last one). Returns the messages that
   * fell out of the window, so the caller can forget their idempotency keys.
   */
  push(entry: BufferedMessage): BufferedMessage[] {
    this.#items.push(entry);
    const evicted: BufferedMessage[] = [];
    while (this.size > this.capacity) {
      const old = this.#items[this.#start];
      if (old) evicted.push(old);
      this.#start++;
    }
    // Compact now and then instead of shifting on every push.
    if (this.#start > 1024 && this.#start > this.#items.length / 2) {
      this.#items = this.#items.slice(this.#start);
      this.#start = 0;
    }
    return evicted;
  }

  /** Loads messages (ascending, contiguous) into an empty buffer, e.g. when a room wakes. */
  fill(messages: readonly Message[]): void {
    for (const message of messages) this.push({ message, frame: frames.message(message) });
  }

  /**
   * Up to `limit` messages with seq > `after`, or null when the buffer does not reach down to
   * `after + 1` (the caller must read the store).
   */
  after(after: number, limit: number): BufferedMessage[] | null {
    const first = this.firstSeq;
    if (first === undefined || after + 1 < first) return null;
    const from = this.#start + (after + 1 - first);
    return this.#items.slice(from, from + limit);
  }

  /**
   * The last `limit` messages with seq < `before` (all of them when `before` is undefined),
   * or null when the buffer cannot tell for sure (the range reaches below it).
   */
  before(before: number | undefined, limit: number): BufferedMessage[] | null {
    const first = this.firstSeq;
    if (first === undefined) return null;
    const total = this.#items.length;
    const end = before === undefined ? total : Math.min(total, this.#start + Math.max(0, before - first));
    const from = end - limit;
    if (from < this.#start) return first === 1 ? this.#items.slice(this.#start, end) : null;
    return this.#items.slice(from, end);
  }
}
