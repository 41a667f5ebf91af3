/**
 * What the room holds of its conversation's log: the durable header, the window of recent
 * entries (messages and changes), the latest state of every message those entries touch, and
 * the idempotency keys of the window's messages. Only committed entries enter it, in seq order;
 * the commit pipeline writes it, every reader (replay, history, thread items) reads it.
 *
 * A message's state changes after its entry was sent (an edit, a reaction): replay and `/log`
 * show every entry with its message in its latest state, so an entry's frame is encoded once
 * per state of its message and reused by every socket until that state changes again.
 */
import { idempotencyKey } from "../content.ts";
import { frames, type OutboundFrame } from "../outbound-frame.ts";
import type { Change, ConversationRecord, LogEntry, Message } from "../types.ts";
import { LogWindow, type WindowEntry } from "./log-window.ts";

/** A message state kept in memory, and how many window entries (or pending changes) need it. */
interface KeptState {
  message: Message;
  refs: number;
}

/** An edit of a deleted message carries no text: a deleted text is never sent again, by any path. */
export function visibleChange(change: Change, target: Message): Change {
  if (!target.deleted || change.kind !== "edit") return change;
  const { body: _body, meta: _meta, ...rest } = change;
  return rest;
}

export class RoomLog {
  readonly #window: LogWindow;
  #states = new Map<number, KeptState>();
  /** Idempotency keys of the window's messages, to their seq. */
  #keys = new Map<string, number>();
  #latest: Message | null = null;
  /** Messages in the log (changes not counted): unread counts count messages. */
  messageCount: number;

  constructor(
    readonly conversation: ConversationRecord,
    bufferSize: number,
    /** The last entries of the log, ascending, each message in its latest state. */
    recent: readonly LogEntry[],
  ) {
    this.#window = new LogWindow(bufferSize);
    this.messageCount = conversation.messageCount ?? 0;
    for (const entry of recent) this.#push(entry);
  }

  get lastSeq(): number {
    return this.conversation.lastSeq;
  }

  get firstSeq(): number | undefined {
    return this.#window.firstSeq;
  }

  /** The newest message in its latest state, if the room has seen it. */
  latest(): Message | null {
    return this.#latest;
  }

  /** A message's latest state, when memory holds it. */
  stateOf(seq: number): Message | undefined {
    return this.#states.get(seq)?.message;
  }

  /** The window's message with this idempotency key, in its latest state. */
  known(key: string): Message | undefined {
    const seq = this.#keys.get(key);
    return seq === undefined ? undefined : this.stateOf(seq);
  }

  /**
   * Keeps a message's state (loaded from the store) in memory while a change to it or a reply
   * to it is pending; returns the release.
   */
  pin(message: Message): () => void {
    const kept = this.#states.get(message.seq);
    if (kept) kept.refs++;
    else this.#states.set(message.seq, { message, refs: 1 });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#unref(message.seq);
    };
  }

  #unref(seq: number): void {
    const kept = this.#states.get(seq);
    if (!kept) return;
    if (--kept.refs <= 0) this.#states.delete(seq);
  }

  /** A new state of a message the log already has (a reply's parent, a change's target). */
  setState(message: Message): void {
    const kept = this.#states.get(message.seq);
    if (kept) kept.message = message;
    if (this.#latest?.seq === message.seq) this.#latest = message;
  }

  /**
   * A committed entry (the next seq) enters the window; returns its frame for live fan-out,
   * encoded with the state just after it.
   */
  apply(entry: LogEntry): OutboundFrame {
    const pushed = this.#push(entry);
    this.conversation.lastSeq = pushed.seq;
    if (entry.type === "message") {
      this.conversation.lastActivityAt = entry.message.createdAt;
      this.messageCount++;
    }
    return this.frameOf(pushed);
  }

  #push(entry: LogEntry): WindowEntry {
    const message = entry.message;
    const kept = this.#states.get(message.seq);
    if (kept) {
      kept.message = message;
      kept.refs++;
    } else this.#states.set(message.seq, { message, refs: 1 });
    let windowEntry: WindowEntry;
    if (entry.type === "message") {
      const key = idempotencyKey(message.senderId, message.clientMessageId);
      windowEntry = { seq: message.seq, target: message.seq, key };
      this.#keys.set(key, message.seq);
      if (!this.#latest || message.seq >= this.#latest.seq) this.#latest = message;
    } else {
      windowEntry = { seq: entry.change.seq, target: entry.change.target, change: entry.change };
      if (this.#latest?.seq === message.seq) this.#latest = message;
    }
    const old = this.#window.push(windowEntry);
    if (old) {
      // The key was kept on the entry: rebuilding it meant a new string to hash per message.
      if (old.key !== undefined) this.#keys.delete(old.key);
      this.#unref(old.target);
    }
    return windowEntry;
  }

  /** An entry's frame with its message in its latest state (encoded once per state). */
  frameOf(entry: WindowEntry): OutboundFrame {
    const state = this.stateOf(entry.target);
    if (!state) throw new Error(`no state for seq ${entry.target} in the window`);
    if (entry.cached?.state === state) return entry.cached.frame;
    const frame = entry.change
      ? frames.change(visibleChange(entry.change, state), state)
      : frames.message(state);
    entry.cached = { state, frame };
    return frame;
  }

  /**
   * The `message` frame already encoded for this message in exactly this state (its fan-out's),
   * if the window has it: an ack of the same message reuses its JSON.
   */
  messageFrame(message: Message): OutboundFrame | undefined {
    const cached = this.#window.at(message.seq)?.cached;
    return cached?.state === message ? cached.frame : undefined;
  }

  /** Entries with seq > `after` (up to `limit`) with their frames, or null below the window. */
  after(after: number, limit: number): Array<{ seq: number; frame: OutboundFrame }> | null {
    return this.#window.after(after, limit)?.map((e) => ({ seq: e.seq, frame: this.frameOf(e) })) ?? null;
  }

  /** Entries with seq > `after` as `/log` shows them, or null below the window. */
  logAfter(after: number, limit: number): LogEntry[] | null {
    const entries = this.#window.after(after, limit);
    if (!entries) return null;
    return entries.map((e): LogEntry => {
      const message = this.stateOf(e.target) as Message;
      return e.change
        ? { type: "change", change: visibleChange(e.change, message), message }
        : { type: "message", message };
    });
  }

  /** Messages (latest state) with seq > `after`, or null below the window. */
  messagesAfter(after: number, limit: number): Message[] | null {
    return this.#window.messagesAfter(after, limit)?.map((e) => this.stateOf(e.seq) as Message) ?? null;
  }

  /** The last messages with seq < `before`, or null when the window cannot tell. */
  messagesBefore(before: number | undefined, limit: number): Message[] | null {
    return this.#window.messagesBefore(before, limit)?.map((e) => this.stateOf(e.seq) as Message) ?? null;
  }

  /** The window's messages with seq > `after`, for counting unread (null below the window). */
  windowMessagesAfter(after: number): Message[] | null {
    return this.messagesAfter(after, Number.MAX_SAFE_INTEGER);
  }
}
