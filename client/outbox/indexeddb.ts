/**
 * The browser outbox: IndexedDB, so a reload neither loses nor doubles a pending message.
 * Where IndexedDB cannot be opened (some private modes), it falls back to memory: sends still
 * go out, they just do not survive a reload.
 */
import { MemoryOutboxStorage, type OutboxEntry, type OutboxStorage } from "./storage.ts";

const STORE = "outbox";
const INDEX = "scope_conversation";

function promisify<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export class IndexedDbOutboxStorage implements OutboxStorage {
  #db: Promise<IDBDatabase | null> | undefined;
  #fallback: MemoryOutboxStorage | undefined;

  readonly #factory: IDBFactory;
  readonly #dbName: string;

  constructor(factory: IDBFactory, dbName = "parley-outbox") {
    this.#factory = factory;
    this.#dbName = dbName;
  }

  /** The database, or null once it failed to open (then memory is used). */
  #open(): Promise<IDBDatabase | null> {
    this.#db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = this.#factory.open(this.#dbName, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore(STORE, { keyPath: "key" });
        store.createIndex(INDEX, ["scope", "conversationId"], { unique: false });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("the outbox database is blocked by another tab"));
    }).catch((error: unknown) => {
      console.warn("parley: IndexedDB unavailable, keeping the outbox in memory", error);
      this.#fallback = new MemoryOutboxStorage();
      return null;
    });
    return this.#db;
  }

  async #run(
    mode: IDBTransactionMode,
    run: (store: IDBObjectStore) => IDBRequest,
    fallback: (memory: MemoryOutboxStorage) => Promise<unknown>,
  ): Promise<unknown> {
    const db = await this.#open();
    if (!db) return fallback(this.#fallback as MemoryOutboxStorage);
    const tx = db.transaction(STORE, mode);
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("parley: outbox transaction aborted"));
    });
    // Both awaited together, so neither rejection goes unhandled.
    const [value] = await Promise.all([promisify(run(tx.objectStore(STORE))), done]);
    return value;
  }

  async put(entry: OutboxEntry): Promise<void> {
    await this.#run(
      "readwrite",
      (s) => s.put(entry),
      (m) => m.put(entry),
    );
  }

  async delete(key: string): Promise<void> {
    await this.#run(
      "readwrite",
      (s) => s.delete(key),
      (m) => m.delete(key),
    );
  }

  async list(scope: string, conversationId: string): Promise<OutboxEntry[]> {
    const rows = (await this.#run(
      "readonly",
      (s) => s.index(INDEX).getAll([scope, conversationId]),
      (m) => m.list(scope, conversationId),
    )) as OutboxEntry[];
    return rows.sort((a, b) => a.createdAt - b.createdAt);
  }
}
