import { IndexedDbOutboxStorage } from "./indexeddb.ts";
import { MemoryOutboxStorage, type OutboxStorage } from "./storage.ts";

/** IndexedDB where the platform has it (browsers), memory elsewhere (Node, Deno). */
export function defaultOutboxStorage(): OutboxStorage {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  return factory ? new IndexedDbOutboxStorage(factory) : new MemoryOutboxStorage();
}
