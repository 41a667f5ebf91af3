/**
 * The outbox of one conversation: every send and every change (edit, delete, reaction) gets an
 * id (a send's `clientMessageId`), is written to storage before its first attempt, and is
 * retried (jittered exponential backoff, `Retry-After` as a floor) across reconnects, server
 * restarts, 5xx and 429 until the relay has it. A send is stored exactly once (the relay answers
 * a repeated key with the original); a change applied once more changes nothing and appends
 * nothing. Entries leave in the order they were made, one at a time, so the relay numbers them
 * in that order.
 */
import { type BackoffOptions, backoffDelay, Wait } from "../backoff.ts";
import { isParleyClientError, ParleyClientError } from "../errors.ts";
import { newClientMessageId } from "../ids.ts";
import type { Message } from "../types.ts";
import { type ChangeRequest, type OutboxEntry, type OutboxStorage, outboxKey } from "./storage.ts";

/** What an entry carries: a new message (`body`, `meta`, `replyTo`) or a `change`. */
export interface OutboxInput {
  body: string;
  meta?: Record<string, unknown> | undefined;
  replyTo?: number | undefined;
  change?: ChangeRequest | undefined;
}

export interface OutboxOptions {
  storage: OutboxStorage;
  /** Whose outbox (relay URL and user id); resolved once the token is known. */
  scope: () => Promise<string>;
  conversationId: string;
  /** One attempt to have the relay store the entry. */
  transmit: (entry: OutboxEntry) => Promise<Message>;
  retryDelay: BackoffOptions;
  /** An entry entered the outbox: a new send, or one restored from storage after a reload. */
  onQueued: (entry: OutboxEntry) => void;
  onSent: (entry: OutboxEntry, message: Message) => void;
  onFailed: (entry: OutboxEntry, error: ParleyClientError) => void;
  /** Storage trouble is reported, never fatal: the entry still goes out from memory. */
  onStorageError: (error: unknown) => void;
}

interface Pending {
  entry: OutboxEntry;
  /** Written to storage (or failed trying). */
  persisted: Promise<void>;
  resolve?: (message: Message) => void;
  reject?: (error: ParleyClientError) => void;
  attempts: number;
  /**
   * Taken out by `discard()` or `settle()` (perhaps while in flight: its answer is then
   * ignored).
   */
  discarded?: boolean;
}

export class Outbox {
  #queue: Pending[] = [];
  #running = false;
  #closed = false;
  #wait = new Wait();
  /** No attempt before this time (a server's Retry-After). */
  #notBefore = 0;
  /** Whose outbox, once known (see `send`). */
  #scope: string | undefined;
  #scoping: Promise<string> | undefined;

  readonly #opts: OutboxOptions;

  constructor(opts: OutboxOptions) {
    this.#opts = opts;
  }

  /** Entries not yet stored by the relay, oldest first. */
  get pending(): OutboxEntry[] {
    return this.#queue.map((p) => p.entry);
  }

  /** Queues a message or a change; resolves with the relay's answer once it has it. */
  send(input: OutboxInput): Promise<Message> {
    if (this.#closed) return Promise.reject(new ParleyClientError("closed", "the conversation is closed"));
    const clientMessageId = newClientMessageId();
    const entry: OutboxEntry = {
      key: "",
      scope: "",
      conversationId: this.#opts.conversationId,
      clientMessageId,
      body: input.body,
      createdAt: Date.now(),
    };
    if (input.meta !== undefined) entry.meta = input.meta;
    if (input.replyTo !== undefined) entry.replyTo = input.replyTo;
    if (input.change !== undefined) entry.change = input.change;
    return new Promise<Message>((resolve, reject) => {
      // Queued synchronously: the call order is the send order.
      const p = { entry, resolve, reject, attempts: 0 } as Pending;
      this.#queue.push(p);
      const queued = (scope: string) => {
        this.#scope = entry.scope = scope;
        entry.key = outboxKey(scope, entry.conversationId, clientMessageId);
        this.#opts.onQueued(entry);
        return this.#opts.storage.put(entry).catch(this.#opts.onStorageError);
      };
      // Reported with its key and scope: at once, or, before the first token (whose user id
      // scopes the outbox) has arrived, as soon as it has (all of those wait on one promise,
      // so they are reported in call order).
      p.persisted =
        this.#scope !== undefined
          ? queued(this.#scope)
          : this.#scoped().then(queued, (error) => {
              this.#opts.onQueued(entry);
              this.#opts.onStorageError(error);
            });
      void this.#pump();
    });
  }

  /** The scope, asked for once for everything waiting on it (asked again after a failure). */
  #scoped(): Promise<string> {
    this.#scoping ??= this.#opts.scope().catch((error) => {
      this.#scoping = undefined;
      throw error;
    });
    return this.#scoping;
  }

  /** Picks up entries an earlier run (a reloaded page) left in storage. */
  async restore(): Promise<void> {
    let stored: OutboxEntry[];
    try {
      // Called first: the scope is known here before any send waiting for it hears it.
      this.#scope = await this.#scoped();
      stored = await this.#opts.storage.list(this.#scope, this.#opts.conversationId);
    } catch (error) {
      this.#opts.onStorageError(error);
      return;
    }
    if (this.#closed) return;
    const known = new Set(this.#queue.map((p) => p.entry.clientMessageId));
    const restored = stored
      .filter((e) => !known.has(e.clientMessageId))
      .map((entry): Pending => ({ entry, persisted: Promise.resolve(), attempts: 0 }));
    if (restored.length === 0) return;
    // Older than anything sent in this run; after the head if it is already in flight.
    const at = this.#running ? 1 : 0;
    this.#queue.splice(Math.min(at, this.#queue.length), 0, ...restored);
    for (const { entry } of restored) this.#opts.onQueued(entry);
    void this.#pump();
  }

  /** Conditions changed (reconnected, online): retry now instead of after the backoff. */
  kick(): void {
    for (const p of this.#queue) p.attempts = 0;
    this.#wait.wake();
    void this.#pump();
  }

  /** Drops the entries `which` picks (from storage too): each fails with `error`. */
  discard(which: (entry: OutboxEntry) => boolean, error: ParleyClientError): void {
    for (const p of this.#queue.filter((q) => which(q.entry))) {
      this.#takeOut(p);
      p.reject?.(error);
      this.#opts.onFailed(p.entry, error);
    }
  }

  /**
   * The relay's log holds this send already (a replay or a live frame brought it, say after its
   * ack was lost): it is sent, now, not when a retry's answer comes back. False when no send of
   * this key is pending.
   */
  settle(clientMessageId: string, message: Message): boolean {
    const p = this.#queue.find((q) => !q.entry.change && q.entry.clientMessageId === clientMessageId);
    if (!p) return false;
    this.#takeOut(p);
    p.resolve?.(message);
    this.#opts.onSent(p.entry, message);
    return true;
  }

  /** Takes an entry out of the queue and storage; an answer still on its way is then ignored. */
  #takeOut(p: Pending): void {
    this.#queue.splice(this.#queue.indexOf(p), 1);
    p.discarded = true;
    void p.persisted.then(() =>
      this.#opts.storage.delete(p.entry.key).catch((e) => this.#opts.onStorageError(e)),
    );
  }

  /** Stops sending. Pending promises reject with `closed`; entries stay in storage. */
  close(): void {
    this.#closed = true;
    this.#wait.cancel();
    const queue = this.#queue;
    this.#queue = [];
    for (const p of queue) p.reject?.(new ParleyClientError("closed", "the conversation was closed"));
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let guard = 0; guard < 1_000_000 && !this.#closed; guard++) {
        const head = this.#queue[0];
        if (!head) break;
        await head.persisted;
        if (head.discarded) continue;
        const remaining = this.#notBefore - Date.now();
        if (remaining > 0) {
          await this.#wait.for(remaining);
          continue;
        }
        try {
          const message = await this.#opts.transmit(head.entry);
          if (head.discarded) continue;
          if (this.#queue[0] === head) this.#queue.shift();
          await this.#opts.storage.delete(head.entry.key).catch((e) => this.#opts.onStorageError(e));
          head.resolve?.(message);
          this.#opts.onSent(head.entry, message);
        } catch (raw) {
          if (this.#closed) break;
          if (head.discarded) continue;
          const error = isParleyClientError(raw)
            ? raw
            : new ParleyClientError("network", String(raw), { cause: raw });
          if (!error.retryable) {
            if (this.#queue[0] === head) this.#queue.shift();
            await this.#opts.storage.delete(head.entry.key).catch((e) => this.#opts.onStorageError(e));
            head.reject?.(error);
            this.#opts.onFailed(head.entry, error);
            continue;
          }
          if (error.retryAfterMs !== undefined) this.#notBefore = Date.now() + error.retryAfterMs;
          await this.#wait.for(backoffDelay(head.attempts++, this.#opts.retryDelay, error.retryAfterMs));
        }
      }
    } finally {
      this.#running = false;
    }
  }
}
