/**
 * The HTTP requests the relay is answering now, so a shutdown can let them finish: a send that
 * was committed while the relay closed gets its 201, instead of a connection reset when the
 * servers drop their connections (README: `relay.close()` "commits what is pending").
 */
import type { EventEmitter } from "node:events";

/** An HTTP/1 or HTTP/2 response: its `close` event is all this needs. */
type Response = Pick<EventEmitter, "once">;

export class InflightRequests {
  readonly #open = new Set<Response>();
  #onEmpty: (() => void) | undefined;

  /** Counts `res` until it is sent or its connection closes. */
  track(res: Response): void {
    this.#open.add(res);
    res.once("close", () => {
      this.#open.delete(res);
      if (this.#open.size === 0) this.#onEmpty?.();
    });
  }

  /** Resolves once no request is open, or after `timeoutMs`; true when they all finished. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.#open.size === 0) return Promise.resolve(true);
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
