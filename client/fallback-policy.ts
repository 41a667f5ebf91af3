/**
 * When `auto` gives up on a transport. A transport that keeps failing is blocked (a proxy)
 * only if plain HTTP works while it fails; failures while the relay or the network is down
 * say nothing about the transport. So the failures are counted afresh once HTTP is seen
 * working, and a fallback needs `after` failures in a row, all of them after HTTP was seen up.
 * Without that, a relay coming back after a restart (its WebSocket refused a few times, then
 * HTTP answering) would push every client onto SSE.
 */
export class FallbackPolicy {
  #failures = 0;
  /** Whether HTTP answered since the current run of failures began. */
  #httpSeenUp = false;

  readonly #after: number;

  constructor(
    /** Failures in a row (with HTTP working) before falling back. */
    after: number,
  ) {
    this.#after = after;
  }

  /** The transport reached live: it works. */
  succeeded(): void {
    this.#failures = 0;
    this.#httpSeenUp = false;
  }

  /** The transport failed to connect (or died before live). */
  failed(): void {
    this.#failures++;
  }

  /**
   * Asked before each connection attempt; `httpWorks` is probed only when enough failures
   * have been counted. True: switch to the next transport now.
   */
  async shouldFallBack(httpWorks: () => Promise<boolean>): Promise<boolean> {
    if (this.#failures < this.#after) return false;
    this.#failures = 0;
    if (!(await httpWorks())) {
      // The relay or the network is down: those failures were not the transport's.
      this.#httpSeenUp = false;
      return false;
    }
    if (!this.#httpSeenUp) {
      // HTTP works now, but the failures may all be from before it did: count again.
      this.#httpSeenUp = true;
      return false;
    }
    this.#httpSeenUp = false;
    return true;
  }
}
