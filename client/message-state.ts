/**
 * What a conversation knows of its messages: each in its latest state (changes of the log
 * folded in), with the user's own changes that the relay has not confirmed yet applied on top
 * (optimistic). States arrive from sources that race each other (the live stream, gap fill,
 * history pages read over HTTP), so each remembers the log seq it is known to be current at,
 * and an older state never replaces a newer one: a UI fed from here never shows an edit older
 * than one it showed, nor the body of a deleted message.
 */
import type { ChangeRequest } from "./outbox/storage.ts";
import type { Change, Message } from "./types.ts";

interface Known {
  message: Message;
  /** The log seq this state is current at (at least). */
  asOf: number;
}

interface Pending {
  change: ChangeRequest;
  /** Set once the relay acknowledged it: the connection count at that moment. */
  acked?: number;
}

/** Most messages remembered; past it, the ones learned first are forgotten. */
const MAX_KNOWN = 10_000;

export class MessageStates {
  #known = new Map<number, Known>();
  /** The user's own changes not yet seen in the log, by outbox id, in the order made. */
  #pending = new Map<string, Pending>();

  readonly #me: () => string | undefined;

  constructor(me: () => string | undefined) {
    this.#me = me;
  }

  /**
   * A state current at log seq `asOf`. True when it changed what was known: false when the
   * state known is newer (then it stays; a deletion is final, whatever arrives later) or the
   * same.
   */
  put(message: Message, asOf: number): boolean {
    const known = this.#known.get(message.seq);
    if (known && (known.asOf > asOf || (known.message.deleted && !message.deleted))) return false;
    this.#known.set(message.seq, { message, asOf });
    if (this.#known.size > MAX_KNOWN) {
      for (const seq of this.#known.keys()) {
        this.#known.delete(seq);
        break;
      }
    }
    return !known || !same(known.message, message);
  }

  /** The latest state known from the relay, without pending changes. */
  known(seq: number): Message | undefined {
    return this.#known.get(seq)?.message;
  }

  /** What a UI shows: the latest state with the user's pending changes applied. */
  get(seq: number): Message | undefined {
    const known = this.#known.get(seq)?.message;
    if (!known) return undefined;
    let m = known;
    for (const p of this.#pending.values()) if (p.change.seq === seq) m = apply(m, p.change, this.#me());
    return m;
  }

  /** Every message known, as a UI shows it, ascending by seq. */
  all(): Message[] {
    return [...this.#known.keys()].sort((a, b) => a - b).map((seq) => this.get(seq) as Message);
  }

  /** A change of the user's entered the outbox. */
  add(id: string, change: ChangeRequest): void {
    this.#pending.set(id, { change });
  }

  /** A pending change was refused: it is undone. */
  remove(id: string): void {
    this.#pending.delete(id);
  }

  /**
   * The relay applied a pending change (`connection` counts the connections opened so far). It
   * stays applied until the log shows it, unless the state known already does.
   */
  ack(id: string, connection: number): void {
    const p = this.#pending.get(id);
    if (!p) return;
    p.acked = connection;
    const known = this.known(p.change.seq);
    if (known && shows(known, p.change, this.#me())) this.#pending.delete(id);
  }

  /**
   * A log entry changed message `seq`: acknowledged changes it shows (or that it is) are done.
   * Returns nothing; `get()` tells the new state.
   */
  confirm(seq: number, entry?: Change): void {
    const me = this.#me();
    const known = this.known(seq);
    let matched = false;
    for (const [id, p] of this.#pending) {
      const c = p.change;
      if (p.acked === undefined || c.seq !== seq) continue;
      const match: boolean =
        !matched &&
        entry !== undefined &&
        entry.kind === c.kind &&
        entry.userId === me &&
        (!("key" in c) || entry.key === c.key);
      if (match || (known && shows(known, c, me))) {
        matched ||= match;
        this.#pending.delete(id);
      }
    }
  }

  /**
   * Gives up on an acknowledged change the log did not show (another device of the user undid
   * it meanwhile, say): the state known wins. Returns its seq when it was still pending.
   */
  expire(id: string): number | undefined {
    const p = this.#pending.get(id);
    if (p?.acked === undefined) return undefined;
    this.#pending.delete(id);
    return p.change.seq;
  }

  /**
   * A connection opened after `connection` caught up: the changes acknowledged before it opened
   * are in what it replayed. Returns the seqs whose pending changes were dropped.
   */
  caughtUp(connection: number): number[] {
    const seqs: number[] = [];
    for (const [id, p] of this.#pending) {
      if (p.acked !== undefined && p.acked < connection) {
        this.#pending.delete(id);
        seqs.push(p.change.seq);
      }
    }
    return seqs;
  }

  /** The relay's log was reset: nothing known holds any more. */
  clear(): void {
    this.#known.clear();
    this.#pending.clear();
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Whether message `m` already shows the effect of change `c` (made by user `me`). */
function shows(m: Message, c: ChangeRequest, me: string | undefined): boolean {
  if (m.deleted) return true;
  switch (c.kind) {
    case "edit":
      return (
        (c.body === undefined || c.body === m.body) && (c.meta === undefined || same(c.meta, m.meta ?? null))
      );
    case "delete":
      return false;
    default:
      return (reactionOf(m, c.key)?.users.includes(me as string) ?? false) === (c.kind === "react");
  }
}

/** A message's reaction `key`, if it has one: own keys only (a key may be named `constructor`). */
export const reactionOf = (m: Message, key: string) =>
  Object.hasOwn(m.reactions, key) ? m.reactions[key] : undefined;

/** `m` with change `c` applied, as the relay will apply it. */
function apply(m: Message, c: ChangeRequest, me: string | undefined): Message {
  if (shows(m, c, me)) return m;
  if (c.kind === "delete") {
    const { meta: _, ...rest } = m;
    return { ...rest, body: "", deleted: true, reactions: {} };
  }
  if (c.kind === "edit") {
    const next: Message = { ...m, editedAt: new Date().toISOString() };
    if (c.body !== undefined) next.body = c.body;
    if (c.meta === null) delete next.meta;
    else if (c.meta !== undefined) next.meta = c.meta;
    return next;
  }
  if (me === undefined) return m;
  const users = (reactionOf(m, c.key)?.users ?? []).filter((u) => u !== me);
  if (c.kind === "react") users.push(me);
  const reactions = { ...m.reactions };
  delete reactions[c.key];
  // Defined, not assigned: a key named `__proto__` must become a key, not the object's prototype.
  if (users.length)
    Object.defineProperty(reactions, c.key, {
      value: { count: users.length, users },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return { ...m, reactions };
}
