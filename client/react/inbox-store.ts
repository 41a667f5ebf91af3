/**
 * The signed-in user's thread list for the hooks: opens `client.inbox()` when the first
 * component subscribes and closes it when the last one leaves. The rows, their order and the
 * unread counts are the SDK's (`inbox.threads`, `inbox.unread`).
 */
import type { ParleyClient } from "../client.ts";
import { ParleyClientError } from "../errors.ts";
import type { Inbox } from "../inbox.ts";
import { State } from "../state.ts";
import type { ThreadItem } from "../types.ts";
import { ExternalStore } from "./external-store.ts";

/** What `useInbox` renders from. */
export interface InboxSnapshot {
  /** The user's conversations, newest activity first, each with its `unread` count. */
  threads: ThreadItem[];
  /** Unread messages across all threads. */
  unread: number;
  /** The inbox's connection state (`live` once the list is loaded and pushed). */
  state: State;
  /** Whether the list has been loaded at least once. */
  loaded: boolean;
  /** The last error reported. */
  error: ParleyClientError | undefined;
}

/** The external store behind `useInbox()`: one per client. */
export class InboxStore extends ExternalStore<InboxSnapshot> {
  #inbox: Inbox | undefined;
  #offs: Array<() => void> = [];
  #loaded = false;
  #error: ParleyClientError | undefined;

  constructor(private readonly client: ParleyClient) {
    super();
  }

  protected override acquire(): void {
    this.#loaded = false;
    let inbox: Inbox;
    try {
      inbox = this.client.inbox();
    } catch (error) {
      this.#error =
        error instanceof ParleyClientError ? error : new ParleyClientError("internal", String(error));
      return;
    }
    this.#inbox = inbox;
    const changed = () => this.changed();
    this.#offs = [
      inbox.on("threads", () => {
        this.#loaded = true;
        changed();
      }),
      inbox.on("state", changed),
      inbox.on("error", (error) => {
        this.#error = error;
        changed();
      }),
    ];
  }

  protected override release(): void {
    for (const off of this.#offs.splice(0)) off();
    this.#inbox?.close();
    this.#inbox = undefined;
  }

  protected override build(): InboxSnapshot {
    const inbox = this.#inbox;
    return {
      threads: inbox && this.#loaded ? inbox.threads : [],
      unread: inbox && this.#loaded ? inbox.unread : 0,
      state: inbox?.state ?? (this.isOpen ? State.Closed : State.Connecting),
      loaded: this.#loaded,
      error: this.#error,
    };
  }
}

const stores = new WeakMap<ParleyClient, InboxStore>();

/** The one inbox store of `client`. */
export function inboxStore(client: ParleyClient): InboxStore {
  let store = stores.get(client);
  if (!store) {
    store = new InboxStore(client);
    stores.set(client, store);
  }
  return store;
}
