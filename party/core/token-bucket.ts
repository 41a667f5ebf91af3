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

  /** Takes one token; returns 0 on success, else the seconds until one is available. */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return (1 - this.#tokens) / this.rate;
  }

  /** Gives back a token taken for something that turned out not to count (a replayed key). */
  refund(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }
}
