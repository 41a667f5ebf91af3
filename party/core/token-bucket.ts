/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate);
    this.#updatedAt = now;
  }

  /**
   * Takes `cost` tokens (one by default: a frame, a send; or a number of bytes); returns 0 on
   * success, else the seconds until that many are available (nothing is taken then).
   */
  take(now: number, cost = 1): number {
    this.#refill(now);
    if (this.#tokens >= cost) {
      this.#tokens -= cost;
      return 0;
    }
    return (cost - this.#tokens) / this.rate;
  }

  /** Tokens available now. */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** True when the bucket is full again: nothing is owed (an idle bucket can be forgotten). */
  full(now: number): boolean {
    return this.available(now) >= this.burst;
  }

  /** Gives back a token taken for something that turned out not to count (a replayed key). */
  refund(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }
}
