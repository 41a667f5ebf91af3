/**
 * One timer per window length for every room of a host: the callbacks handed in while a window
 * is open all run when it closes, so each runs within `ms` of being handed in (sooner when it
 * came late in the window). What a room coalesces per window (thread-list updates) is then
 * still sent at most once per window, and thousands of rooms cost one timer, not one each.
 */
import type { OnError } from "../log.ts";

export class SharedWindows {
  #open = new Map<number, Array<() => void>>();

  constructor(private readonly onError: OnError) {}

  /** Runs `fn` when the open window of `ms` closes (one opens now if none is). */
  readonly later = (ms: number, fn: () => void): undefined => {
    let due = this.#open.get(ms);
    if (!due) {
      const list: Array<() => void> = [];
      due = list;
      this.#open.set(ms, list);
      setTimeout(() => {
        this.#open.delete(ms);
        for (const run of list) {
          // One room's failure must not keep the others' updates.
          try {
            run();
          } catch (error) {
            this.onError(error, "a room's timer failed");
          }
        }
      }, ms);
    }
    due.push(fn);
    return undefined;
  };
}
