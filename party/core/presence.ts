/**
 * Who is online in one room: users with at least one open connection (socket, SSE stream or
 * waiting long-poll), plus those whose last connection closed less than `graceMs` ago, so a
 * reconnect does not flicker.
 */
export class PresenceTracker {
  #open = new Map<string, number>();
  #grace = new Map<string, ReturnType<typeof setTimeout>>();
  /**
   * Bumped by `forget`: holds taken before it no longer count, so a removed member's
   * connection that closes later (a long-poll waking with 403) does not start a grace period.
   */
  #epoch = new Map<string, number>();

  constructor(
    private readonly graceMs: number,
    /**
     * Called when a user comes online or goes offline (not for a reconnect within the grace
     * period).
     */
    private readonly onChange: (userId: string, online: boolean) => void,
  ) {}

  /** Marks one more connection of `userId` open; returns the function that releases it. */
  hold(userId: string): () => void {
    const epoch = this.open(userId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.close(userId, epoch);
    };
  }

  /**
   * `hold` without the closure: marks one more connection open and returns the hold's epoch,
   * which the caller gives to `close` exactly once. A room's sockets use it: a closure and its
   * scope kept per idle socket was memory (issue 17).
   */
  open(userId: string): number {
    const wasOnline = this.isOnline(userId);
    this.#open.set(userId, (this.#open.get(userId) ?? 0) + 1);
    const timer = this.#grace.get(userId);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#grace.delete(userId);
    }
    if (!wasOnline) this.onChange(userId, true);
    return this.#epoch.get(userId) ?? 0;
  }

  /** Releases a hold taken by `open` (once): not counted when the user was forgotten since. */
  close(userId: string, epoch: number): void {
    if ((this.#epoch.get(userId) ?? 0) === epoch) this.#release(userId);
  }

  #release(userId: string): void {
    const left = (this.#open.get(userId) ?? 1) - 1;
    if (left > 0) {
      this.#open.set(userId, left);
      return;
    }
    this.#open.delete(userId);
    const timer = setTimeout(() => {
      this.#grace.delete(userId);
      if (!this.#open.has(userId)) this.onChange(userId, false);
    }, this.graceMs);
    this.#grace.set(userId, timer);
  }

  /** Forgets a user at once (a removed member), without a grace period. */
  forget(userId: string): void {
    const timer = this.#grace.get(userId);
    if (timer !== undefined) clearTimeout(timer);
    const was = this.isOnline(userId);
    this.#grace.delete(userId);
    this.#open.delete(userId);
    this.#epoch.set(userId, (this.#epoch.get(userId) ?? 0) + 1);
    if (was) this.onChange(userId, false);
  }

  isOnline(userId: string): boolean {
    return this.#open.has(userId) || this.#grace.has(userId);
  }

  online(): string[] {
    return [...new Set([...this.#open.keys(), ...this.#grace.keys()])].sort();
  }

  /** True while anyone is online or in grace: the room must stay loaded. */
  get active(): boolean {
    return this.#open.size > 0 || this.#grace.size > 0;
  }

  dispose(): void {
    for (const timer of this.#grace.values()) clearTimeout(timer);
    this.#grace.clear();
  }
}
