/**
 * The part of an edge actor's own storage that a room's write-ahead log uses (room-wal.ts):
 * batched reads, writes and deletes. The Durable Object's `ctx.storage` (and PartyKit's
 * `room.storage`, the same underneath) has them as overloads of `get`, `put` and `delete`.
 *
 * Writes issued in one turn without an `await` between them are one atomic transaction there
 * (write coalescing), which is how a batch and its idempotency keys land together although a
 * single `put` takes at most 128 keys.
 */
export interface WalStorage {
  get<T = unknown>(keys: string[]): Promise<Map<string, T>>;
  put<T>(entries: Record<string, T>): Promise<void>;
  delete(keys: string[]): Promise<number>;
  list<T = unknown>(options: { prefix: string; limit?: number }): Promise<Map<string, T>>;
}

/** What one `put` or `get` of a Durable Object's storage takes at most. */
export const KEYS_PER_CALL = 128;

/** Issues the writes in one turn (one transaction on a Durable Object), then waits for all. */
export function putAll(storage: WalStorage, entries: Array<[string, unknown]>): Promise<void> {
  const calls: Promise<void>[] = [];
  for (let i = 0; i < entries.length; i += KEYS_PER_CALL)
    calls.push(storage.put(Object.fromEntries(entries.slice(i, i + KEYS_PER_CALL))));
  return Promise.all(calls).then(() => undefined);
}

/** Reads many keys, 128 at a time; the answer holds only the keys that are stored. */
export async function getAll<T>(storage: WalStorage, keys: string[]): Promise<Map<string, T>> {
  const calls: Promise<Map<string, T>>[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_CALL)
    calls.push(storage.get<T>(keys.slice(i, i + KEYS_PER_CALL)));
  const found = new Map<string, T>();
  for (const part of await Promise.all(calls)) for (const [k, v] of part) found.set(k, v);
  return found;
}

/** Deletes many keys, 128 at a time, in one turn. */
export function deleteAll(storage: WalStorage, keys: string[]): Promise<void> {
  const calls: Promise<number>[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_CALL)
    calls.push(storage.delete(keys.slice(i, i + KEYS_PER_CALL)));
  return Promise.all(calls).then(() => undefined);
}
