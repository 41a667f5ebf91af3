/**
 * Read receipts of one conversation: our own position (forward only, coalesced, retried) and
 * the members' positions as read frames and HTTP snapshots report them (forward only).
 */
import { type BackoffOptions, backoffDelay } from "./backoff.ts";
import { isParleyClientError, type ParleyClientError } from "./errors.ts";

export interface ReadReceiptsOptions {
  /** Delivers our position to the relay (a socket frame or `POST …/read`). */
  send: (seq: number) => Promise<void>;
  retryDelay: BackoffOptions;
  isClosed: () => boolean;
  /** A member's position was first learnt, or moved forward. */
  onChange: (userId: string, seq: number) => void;
  onError: (error: ParleyClientError) => void;
}

/** Attempts per flush before waiting for the next `mark()` or reconnect. */
const MAX_ATTEMPTS = 20;

export class ReadReceipts {
  #positions = new Map<string, number>();
  #mine = 0;
  #sent = 0;
  #flush: Promise<void> | undefined;

  readonly #opts: ReadReceiptsOptions;

  constructor(opts: ReadReceiptsOptions) {
    this.#opts = opts;
  }

  /** Members' positions as far as known. */
  get positions(): ReadonlyMap<string, number> {
    return new Map(this.#positions);
  }

  /** A reported position; ignored unless it moves forward. */
  apply(userId: string, seq: number): void {
    if (seq <= (this.#positions.get(userId) ?? -1)) return;
    this.#positions.set(userId, seq);
    this.#opts.onChange(userId, seq);
  }

  /** Marks up to `seq` read; resolves once delivered (never rejects). */
  mark(seq: number): Promise<void> {
    if (seq > this.#mine) this.#mine = seq;
    return this.#queueFlush();
  }

  /** The relay knows less than we sent (a frame lost with its socket): send it again. */
  reconcile(me: string | undefined): void {
    const known = me === undefined ? undefined : this.#positions.get(me);
    if (known !== undefined && known < this.#mine) {
      this.#sent = Math.min(this.#sent, known);
      void this.#queueFlush();
    }
  }

  /** Flushes run one after another, so each sees the latest position. */
  #queueFlush(): Promise<void> {
    const run = (this.#flush ?? Promise.resolve()).then(() => this.#deliver());
    this.#flush = run;
    return run;
  }

  async #deliver(): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS && this.#sent < this.#mine; ) {
      if (this.#opts.isClosed()) return;
      const target = this.#mine;
      try {
        await this.#opts.send(target);
        this.#sent = Math.max(this.#sent, target);
        attempt = 0;
      } catch (error) {
        if (isParleyClientError(error) && !error.retryable) {
          this.#opts.onError(error);
          return;
        }
        await new Promise((r) => setTimeout(r, backoffDelay(attempt++, this.#opts.retryDelay)));
      }
    }
  }
}
