/**
 * Coalesces a room's thread-list updates: members whose thread changed are marked, and once
 * per short window the room sends each listening one a single `thread` frame with the latest
 * state. A burst of commits then costs each inbox a few frames, not one per commit.
 */
export class InboxNotifier {
  #dirty = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly delayMs: number,
    /** Sends the marked members their thread items (the room decides who listens). */
    private readonly flush: (userIds: string[]) => void,
  ) {}

  /** These members' thread items changed. */
  mark(userIds: Iterable<string>): void {
    for (const id of userIds) this.#dirty.add(id);
    if (this.#timer !== undefined || this.#dirty.size === 0) return;
    this.#timer = setTimeout(() => this.flushNow(), this.delayMs);
  }

  /** True while updates wait to be sent: the room stays loaded until they are. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** Sends what is marked now. */
  flushNow(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dirty.size === 0) return;
    const users = [...this.#dirty];
    this.#dirty.clear();
    this.flush(users);
  }
}
