/**
 * The members of one conversation and their read positions. Unread counts (others' messages
 * above the read position, not deleted; changes never count) are kept without touching every member on
 * every commit: each member carries how many of the log's messages were at or below their
 * read position when it last moved, and how many of their own came after; unread is the
 * conversation's message count minus both.
 */
import { ParleyError } from "../errors.ts";
import type { MemberRecord } from "../types.ts";

interface MemberState {
  lastReadSeq: number;
  /** Messages of the log not unread for this member when the read position last moved. */
  readMessages: number;
  /** The member's own messages since. */
  ownSinceRead: number;
}

export class Members {
  #members = new Map<string, MemberState>();
  #ids: string[] = [];

  /**
   * `messageCount`: the log's messages; `unread`: each member's unread count as the store
   * counted it when the room loaded.
   */
  constructor(records: readonly MemberRecord[], messageCount: number, unread: ReadonlyMap<string, number>) {
    for (const m of records) {
      this.#members.set(m.userId, {
        lastReadSeq: m.lastReadSeq,
        readMessages: messageCount - (unread.get(m.userId) ?? 0),
        ownSinceRead: 0,
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

  /** Others' messages above the member's read position, given the log's message count. */
  unread(userId: string, messageCount: number): number {
    const m = this.#members.get(userId);
    return m ? messageCount - m.readMessages - m.ownSinceRead : 0;
  }

  /** The member sent a message (above their read position, so it is never unread for them). */
  sent(userId: string): void {
    const m = this.#members.get(userId);
    if (m) m.ownSinceRead++;
  }

  /**
   * `message` was deleted: it is no longer unread for the members who had not read it (counted
   * as read, so the log's message count still holds it). True when some member's count fell.
   */
  deleted(message: { seq: number; senderId: string }): boolean {
    let fell = false;
    for (const [userId, m] of this.#members) {
      if (userId === message.senderId || m.lastReadSeq >= message.seq) continue;
      m.readMessages++;
      fell = true;
    }
    return fell;
  }

  /** Moves the read position forward only; false when it would not move. */
  moveRead(userId: string, seq: number): boolean {
    const m = this.#members.get(userId);
    if (!m || seq <= m.lastReadSeq) return false;
    m.lastReadSeq = seq;
    return true;
  }

  /**
   * The store refused the read that moved `userId` to `seq` (from `previous`): back to where it
   * was, unless a later read moved it further meanwhile, so that the client's retry is stored.
   */
  undoRead(userId: string, seq: number, previous: number): void {
    const m = this.#members.get(userId);
    if (m && m.lastReadSeq === seq) m.lastReadSeq = previous;
  }

  /**
   * After the store confirmed a read at `seq`: `unreadAbove` is others' messages above it, out
   * of `messageCount`. False when a later read moved the position further meanwhile (that one
   * settles it).
   */
  settleRead(userId: string, seq: number, messageCount: number, unreadAbove: number): boolean {
    const m = this.#members.get(userId);
    if (!m || m.lastReadSeq !== seq) return false;
    m.readMessages = messageCount - unreadAbove;
    m.ownSinceRead = 0;
    return true;
  }

  /** A new member, who has read nothing: `unreadAbove` is others' messages in the whole log. */
  add(userId: string, messageCount: number, unreadAbove: number): void {
    this.#members.set(userId, { lastReadSeq: 0, readMessages: messageCount - unreadAbove, ownSinceRead: 0 });
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
