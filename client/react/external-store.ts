/**
 * What the hooks' stores share: the contract of React's `useSyncExternalStore` (a `subscribe`
 * and a `getSnapshot` that returns the same object until something changed), with the SDK
 * object they read opened by the first subscriber and released when the last one leaves.
 *
 * Why batched: a catch-up emits many events in one go; each marks the snapshot stale and one
 * microtask tells React once. `getSnapshot` rebuilds lazily, so a render between an event and
 * that microtask already reads the new state (renders are never torn).
 *
 * Why the release waits a microtask: React's StrictMode unsubscribes and subscribes again at
 * once on mount; the SDK object stays open across that instead of reconnecting.
 */
export abstract class ExternalStore<S> {
  #listeners = new Set<() => void>();
  #snapshot: S | undefined;
  #stale = true;
  #notifying = false;
  #open = false;

  /** Whether an SDK object is held (between the first subscribe and the last release). */
  protected get isOpen(): boolean {
    return this.#open;
  }

  /** For `useSyncExternalStore`: the first subscriber opens, the last one releases (deferred). */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (!this.#open) {
      this.#open = true;
      this.acquire();
      this.changed();
    }
    return () => {
      this.#listeners.delete(listener);
      queueMicrotask(() => {
        if (this.#listeners.size > 0 || !this.#open) return;
        this.#open = false;
        this.release();
        this.changed();
      });
    };
  };

  /** For `useSyncExternalStore`: the current snapshot, the same object until it changes. */
  readonly getSnapshot = (): S => {
    if (this.#stale || this.#snapshot === undefined) {
      this.#snapshot = this.build();
      this.#stale = false;
    }
    return this.#snapshot;
  };

  /** Something the snapshot shows changed: rebuilt when read, subscribers told once per tick. */
  protected changed(): void {
    this.#stale = true;
    if (this.#notifying) return;
    this.#notifying = true;
    queueMicrotask(() => {
      this.#notifying = false;
      for (const listener of [...this.#listeners]) listener();
    });
  }

  /** Opens the SDK object and subscribes to its events. */
  protected abstract acquire(): void;
  /** Unsubscribes and closes (or lets go of) the SDK object. */
  protected abstract release(): void;
  /** A new immutable snapshot of what the SDK object knows now. */
  protected abstract build(): S;
}
