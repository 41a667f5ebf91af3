/**
 * The members of one conversation and their read positions. Unread counts are kept without
 * touching every member on every commit: each member carries the number of their own messages
 * above their read position, and unread (others' messages above it) is derived from that.
 */
import { ParleyError } from "../errors.ts";
import type { MemberRecord } from "../types.ts";

interface MemberState {
  lastReadSeq: number;
  /** The member's own messages above lastReadSeq. */
  ownAboveRead: number;
}

export class Members {
  #members = new Map<string, MemberState>();
  #ids: string[] = [];

  /** `unread`: each member's unread count as the store counted it when the room loaded. */
  constructor(records: readonly MemberRecord[], lastSeq: number, unread: ReadonlyMap<string, number>) {
    for (const m of records) {
      const aboveRead = lastSeq - m.lastReadSeq;
      this.#members.set(m.userId, {
        lastReadSeq: m.lastReadSeq,
        ownAboveRead: aboveRead - (unread.get(m.userId) ?? 0),
      });
    }
    this.#ids = [...this.#members.keys()];
  }

  has(userId: string): boolean {
    return this.#members.has(userId);
  }

  /** Member ids, in the order they joined (the same array until membership changes). */
  get ids(): string[] {
    return this.#ids;
  }

  /** 403 unless `userId` is a member. */
  require(userId: string): void {
    if (!this.#members.has(userId))
      throw new ParleyError("forbidden", "you are not a member of this conversation");
  }

  lastReadSeq(userId: string): number {
    return this.#members.get(userId)?.lastReadSeq ?? 0;
  }

  /** Others' messages above the member's read position, given the conversation's lastSeq. */
  unread(userId: string, lastSeq: number): number {
    const m = this.#members.get(userId);
    return m ? lastSeq - m.lastReadSeq - m.ownAboveRead : 0;
  }

  /** The member sent a message (above their read position, so it is never unread for them). */
  sent(userId: string): void {
    const m = this.#members.get(userId);
    if (m) m.ownAboveRead++;
  }

  /** Moves the read position forward only; false when it would not move. */
  moveRead(userId: string, seq: number): boolean {
    const m = this.#members.get(userId);
    if (!m || seq <= m.lastReadSeq) return false;
    m.lastReadSeq = seq;
    return true;
  }

  /**
   * After the store confirmed a read at `seq`: recount the member's own messages above it from
   * `unreadAbove` (others' messages above `seq`, up to `lastSeq`). False when a later read
   * moved the position further meanwhile (that one settles it).
   */
  settleRead(userId: string, seq: number, lastSeq: number, unreadAbove: number): boolean {
    const m = this.#members.get(userId);
    if (!m || m.lastReadSeq !== seq) return false;
    m.ownAboveRead = lastSeq - seq - unreadAbove;
    return true;
  }

  add(userId: string, lastSeq: number, unreadAbove: number): void {
    this.#members.set(userId, { lastReadSeq: 0, ownAboveRead: lastSeq - unreadAbove });
    this.#ids = [...this.#members.keys()];
  }

  remove(userId: string): boolean {
    if (!this.#members.delete(userId)) return false;
    this.#ids = [...this.#members.keys()];
    return true;
  }

  views(): Array<{ userId: string; lastReadSeq: number }> {
    return [...this.#members].map(([userId, m]) => ({ userId, lastReadSeq: m.lastReadSeq }));
  }
}
