/**
 * Where pending sends and changes wait until the relay has stored them. One small interface, so
 * a page reload (IndexedDB) or an app restart (your own store) neither loses nor doubles one: a
 * send keeps its `clientMessageId`, and a retry with it is answered with the original; a change
 * retried after it was applied changes nothing and appends nothing.
 */
export interface OutboxEntry {
  /** Unique key of the entry: `${scope}|${conversationId}|${clientMessageId}`. */
  key: string;
  /** Whose outbox: the relay URL and the user id. */
  scope: string;
  conversationId: string;
  /** A send's idempotency key; for a change, its id (the `ref` of its socket frame). */
  clientMessageId: string;
  /** A send's text ("" for a change). */
  body: string;
  meta?: Record<string, unknown>;
  /** A send that answers the message with this seq (`reply()`). */
  replyTo?: number;
  /** Set when the entry is a change to an earlier message rather than a new message. */
  change?: ChangeRequest;
  /** When it was queued (ms since epoch); entries are sent in this order. */
  createdAt: number;
}

/**
 * A change to the message with seq `seq`, as `edit()`, `delete()`, `react()` and `unreact()`
 * queue it.
 */
export type ChangeRequest =
  | { kind: "edit"; seq: number; body?: string; meta?: Record<string, unknown> | null }
  | { kind: "delete"; seq: number }
  | { kind: "react" | "unreact"; seq: number; key: string };

export interface OutboxStorage {
  put(entry: OutboxEntry): Promise<void>;
  delete(key: string): Promise<void>;
  /** Entries of one scope and conversation, oldest first. */
  list(scope: string, conversationId: string): Promise<OutboxEntry[]>;
}

/** Keeps entries in memory: survives reconnects and server restarts, not a process restart. */
export class MemoryOutboxStorage implements OutboxStorage {
  #entries = new Map<string, OutboxEntry>();

  async put(entry: OutboxEntry): Promise<void> {
    this.#entries.set(entry.key, structuredClone(entry));
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async list(scope: string, conversationId: string): Promise<OutboxEntry[]> {
    return [...this.#entries.values()]
      .filter((e) => e.scope === scope && e.conversationId === conversationId)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((e) => structuredClone(e));
  }

  /** Number of entries (all scopes). */
  get size(): number {
    return this.#entries.size;
  }
}

export const outboxKey = (scope: string, conversationId: string, clientMessageId: string): string =>
  `${scope}|${conversationId}|${clientMessageId}`;
