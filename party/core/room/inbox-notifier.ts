/**
 * Coalesces a room's thread-list updates: members whose thread changed are marked, and once
 * per short window the room sends each listening one a single `thread` frame with the latest
 * state. A burst of commits then costs each inbox a few frames, not one per commit.
 */

/**
 * Runs `fn` once, within `ms`. A host of many rooms passes one that shares a timer among them
 * (`SharedWindows`): with thousands of rooms each getting a message now and then, a timer of
 * its own per room and window was one timer per send. May return a cancel.
 */
export type Later = (ms: number, fn: () => void) => (() => void) | undefined;

/** A timer of its own, cancelled when the room flushes early. */
const ownTimer: Later = (ms, fn) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

export class InboxNotifier {
  #dirty = new Set<string>();
  /** The window that is open (its flush not run yet); a flush that is not this one's does nothing. */
  #window: { cancel: (() => void) | undefined } | undefined;

  constructor(
    private readonly delayMs: number,
    /** Sends the marked members their thread items (the room decides who listens). */
    private readonly flush: (userIds: string[]) => void,
    private readonly later: Later = ownTimer,
  ) {}

  /** These members' thread items changed. */
  mark(userIds: Iterable<string>): void {
    for (const id of userIds) this.#dirty.add(id);
    if (this.#window !== undefined || this.#dirty.size === 0) return;
    const window: { cancel: (() => void) | undefined } = { cancel: undefined };
    this.#window = window;
    window.cancel = this.later(this.delayMs, () => {
      if (this.#window === window) this.flushNow();
    });
  }

  /** True while updates wait to be sent: the room stays loaded until they are. */
  get pending(): boolean {
    return this.#window !== undefined;
  }

  /** Sends what is marked now. */
  flushNow(): void {
    this.#window?.cancel?.();
    this.#window = undefined;
    if (this.#dirty.size === 0) return;
    const users = [...this.#dirty];
    this.#dirty.clear();
    this.flush(users);
  }
}
