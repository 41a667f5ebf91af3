/**
 * Which members of a room have an inbox that listens, as the room actor knows it on the edge:
 * the answer of `InboxRouter.isListening`, so a commit builds and sends `thread` frames only to
 * inbox actors with an open socket, and never wakes the others.
 *
 * Inbox actors register here (`listen`, when their first socket opens) and unregister
 * (`unlisten`, when their last one closes); a delivery that finds an inbox no longer listening
 * drops it (`lapsed`). The set is kept in the actor's own storage, one key per member, so it
 * survives hibernation; it is read once when the actor starts, never per commit.
 */
import type { ActorStorage } from "./actor-storage.ts";

const PREFIX = "listen:";

export class ListeningInboxes {
  /** Listening user ids, each with the number of its latest registration. */
  #ids = new Map<string, number>();
  #registrations = 0;
  #loaded = false;
  #loading: Promise<void> | undefined;

  constructor(private readonly storage: ActorStorage) {}

  /** Reads the set from storage (once; every change waits for it). */
  load(): Promise<void> {
    if (this.#loaded) return Promise.resolve();
    this.#loading ??= this.storage.list<true>({ prefix: PREFIX }).then(
      (stored) => {
        for (const key of stored.keys()) {
          const userId = key.slice(PREFIX.length);
          if (!this.#ids.has(userId)) this.#ids.set(userId, ++this.#registrations);
        }
        this.#loaded = true;
        this.#loading = undefined;
      },
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }

  /** Whether the user's inbox listens (false until loaded; the actor loads before its room). */
  has(userId: string): boolean {
    return this.#ids.has(userId);
  }

  /** The number of the user's current registration, to tell a later one from it. */
  registration(userId: string): number | undefined {
    return this.#ids.get(userId);
  }

  get size(): number {
    return this.#ids.size;
  }

  /** The user's inbox listens. A new registration number even when it already did. */
  async listen(userId: string): Promise<void> {
    await this.load();
    const known = this.#ids.has(userId);
    this.#ids.set(userId, ++this.#registrations);
    if (!known) await this.storage.put(PREFIX + userId, true);
  }

  /** The user's inbox stopped listening, or the user left the conversation. */
  async unlisten(userId: string): Promise<void> {
    await this.load();
    await this.#drop(userId);
  }

  /**
   * A delivery made under `registration` found the inbox not listening: drop it (true), unless
   * it registered again meanwhile (a `listen` that crossed the answer on its way). Decided and
   * done in one turn, so no `listen` can slip in between.
   */
  lapsed(userId: string, registration: number): Promise<boolean> {
    if (this.#ids.get(userId) !== registration) return Promise.resolve(false);
    return this.#drop(userId);
  }

  /** Forgets the user; true when it was in the set. */
  async #drop(userId: string): Promise<boolean> {
    if (!this.#ids.delete(userId)) return false;
    await this.storage.delete(PREFIX + userId);
    return true;
  }
}
