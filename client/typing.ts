/** Incoming typing indicators: who is typing, each expiring on its own. */

/** The payload of a conversation's `typing` event. */
export interface TypingChange {
  userId: string;
  /** True when the user started (or kept) typing, false when it expired or they sent. */
  typing: boolean;
  /** Every user typing now. */
  users: string[];
}

/** Longest an indicator is kept, whatever the server (or a skewed clock) says. */
const MAX_TYPING_MS = 30_000;

export class TypingTracker {
  #timers = new Map<string, ReturnType<typeof setTimeout>>();

  readonly #onChange: (change: TypingChange) => void;

  constructor(onChange: (change: TypingChange) => void) {
    this.#onChange = onChange;
  }

  /** Users typing now. */
  get users(): string[] {
    return [...this.#timers.keys()].sort();
  }

  /** A `typing` frame: `userId` types until `expiresAt` (ISO-8601, the server's clock). */
  set(userId: string, expiresAt: string): void {
    const ms = Math.min(MAX_TYPING_MS, Date.parse(expiresAt) - Date.now());
    if (!Number.isFinite(ms) || ms <= 0) return;
    const known = this.#timers.has(userId);
    clearTimeout(this.#timers.get(userId));
    this.#timers.set(
      userId,
      setTimeout(() => this.clear(userId), ms),
    );
    if (!known) this.#onChange({ userId, typing: true, users: this.users });
  }

  /** `userId` stopped typing (their indicator expired, or their message arrived). */
  clear(userId: string): void {
    const timer = this.#timers.get(userId);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(userId);
    this.#onChange({ userId, typing: false, users: this.users });
  }

  /** Nobody is known to be typing (the connection is down): each indicator stops now. */
  clearAll(): void {
    for (const userId of [...this.#timers.keys()]) this.clear(userId);
  }

  dispose(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
