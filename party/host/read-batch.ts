/**
 * Gathers point reads made close together into one read of many keys: the first `get` opens a
 * batch, which is read `waitMs` later (or at once when it is full); every `get` until then
 * joins it. Why: after a restart every socket's first token asks for one user's profile;
 * one query per socket was the relay's biggest store cost in a reconnect storm, and one query
 * of a few hundred keys costs about what one of a single key does.
 */
export class ReadBatch<V> {
  #open: { keys: Set<string>; result: Promise<Map<string, V>>; start: () => void } | undefined;

  constructor(
    /** Reads many keys at once; a key missing from the answer has no value. */
    private readonly readMany: (keys: string[]) => Promise<Map<string, V>>,
    /** Keys per read at most (the store's bound on one `IN (…)` list). */
    private readonly maxKeys: number,
    /** How long the first `get` of a batch waits for others. */
    private readonly waitMs: number,
  ) {}

  /** The value of `key` (undefined when there is none), read with whatever else is asked meanwhile. */
  async get(key: string): Promise<V | undefined> {
    let batch = this.#open;
    if (!batch) {
      const keys = new Set<string>();
      let start = () => {};
      const started = new Promise<void>((resolve) => {
        start = resolve;
      });
      const result = started.then(() => {
        if (this.#open === batch) this.#open = undefined;
        return this.readMany([...keys]);
      });
      batch = { keys, result, start };
      this.#open = batch;
      // A timer, not a microtask: the token checks of a burst finish over several turns of
      // the event loop (measured in the storm: ~3 users per read at 0 ms).
      setTimeout(batch.start, this.waitMs);
    }
    batch.keys.add(key);
    if (batch.keys.size >= this.maxKeys) {
      // Full: read now; the next `get` opens a new batch.
      this.#open = undefined;
      batch.start();
    }
    return (await batch.result).get(key);
  }
}
