/**
 * The HTTP requests the relay is answering now, so a shutdown can let them finish: a send that
 * was committed while the relay closed gets its 201, instead of a connection reset when the
 * servers drop their connections (README: `relay.close()` "commits what is pending").
 */
import type { EventEmitter } from "node:events";

/** An HTTP/1 or HTTP/2 response: its `close` event is all this needs. */
type Response = Pick<EventEmitter, "once">;

export class InflightRequests {
  /**
   * How many are open: a count, not a Set of the answers. With a long-lived Set that every
   * answer passed through, the answers and all they reach (request, headers, body) survived
   * the young generation's collections and were moved to the old heap, to wait for a full GC;
   * most likely through the Set's replaced tables, which are in the old heap and which V8 keeps
   * pointing at their entries. Measured on durable HTTP sends with a one-entry log window:
   * 1.1 MB moved to the old heap and 5.7 ms per young collection with the Set, 0.1 MB and
   * 1.5 ms without (issue 17; BENCHMARKS.md).
   */
  #open = 0;
  #onEmpty: (() => void) | undefined;

  /** Counts `res` until it is sent or its connection closes. */
  track(res: Response): void {
    this.#open++;
    res.once("close", this.#closed);
  }

  readonly #closed = (): void => {
    this.#open--;
    if (this.#open === 0) this.#onEmpty?.();
  };

  /** Resolves once no request is open, or after `timeoutMs`; true when they all finished. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.#open === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#onEmpty = undefined;
        resolve(false);
      }, timeoutMs);
      this.#onEmpty = () => {
        clearTimeout(timer);
        this.#onEmpty = undefined;
        resolve(true);
      };
    });
  }
}
