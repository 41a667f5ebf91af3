/** Jittered exponential backoff, shared by reconnects and send retries. */
export interface BackoffOptions {
  /** First delay (before jitter), ms. */
  minMs: number;
  /** Ceiling, ms. */
  maxMs: number;
}

/**
 * The delay before retry number `attempt` (0-based): exponential from `minMs` up to `maxMs`,
 * with "equal jitter" (between half and all of it) so a crowd of clients spreads out after a
 * server restart. A server's `Retry-After` is a floor.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, retryAfterMs?: number): number {
  const exp = Math.min(opts.maxMs, opts.minMs * 2 ** Math.min(attempt, 30));
  const jittered = exp / 2 + Math.random() * (exp / 2);
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}

/** A timer that can be cut short (`wake()`) or cancelled; used for every backoff wait. */
export class Wait {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resolve: (() => void) | undefined;

  /** Resolves after `ms`, or earlier on `wake()`. */
  for(ms: number): Promise<void> {
    this.cancel();
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#timer = setTimeout(() => this.#finish(), ms);
    });
  }

  get waiting(): boolean {
    return this.#resolve !== undefined;
  }

  /** Ends the current wait now. */
  wake(): void {
    this.#finish();
  }

  /** Ends the current wait now (same as wake; the caller checks whether to go on). */
  cancel(): void {
    this.#finish();
  }

  #finish(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }
}
