/**
 * One conversation for the hooks: opens `client.conversation(id)` when the first component
 * subscribes, loads its latest page of history, and turns its events into immutable snapshots.
 * Everything it shows is read from the SDK (`messages`, `typingUsers`, `online`, `pending` …):
 * it keeps no second copy of message state, only which of the known messages form the range
 * shown and the sends the outbox reported as refused.
 */
import type { ParleyClient } from "../client.ts";
import type { Conversation } from "../conversation.ts";
import { ParleyClientError } from "../errors.ts";
import type { OutboxEntry } from "../outbox/storage.ts";
import { State } from "../state.ts";
import type { EditFields, Message } from "../types.ts";
import { ExternalStore } from "./external-store.ts";

/** Options of `useConversation(id, options)`; read when the conversation is first opened. */
export interface UseConversationOptions {
  /**
   * Resume after this seq (the last one your app already has; `0` replays the whole history).
   * Left out, the latest page of history is loaded and live messages follow it.
   */
  after?: number;
  /** Messages per history page (the first one and each `loadEarlier()`); default 50. */
  pageSize?: number;
}

/** A message of yours that the relay has not stored: on its way, or refused for good. */
export interface OutgoingMessage {
  /** The send's idempotency key (the stored message will carry it). */
  clientMessageId: string;
  body: string;
  meta?: Record<string, unknown>;
  replyTo?: number;
  /** `sending` until stored (then it moves to `messages`); `failed` when refused for good. */
  status: "sending" | "failed";
  /** Why it was refused (`failed` only). */
  error?: ParleyClientError;
}

/** What `useConversation` renders from: one consistent view of the conversation. */
export interface ConversationSnapshot {
  /**
   * The stored messages shown, ascending by seq, each in its latest state: edits, deletions
   * (tombstones: `deleted`, body "") and reactions folded in, your own changes applied at once
   * and undone if refused.
   */
  messages: Message[];
  /** Your sends not stored yet, oldest first, then those refused (until dismissed). */
  pending: OutgoingMessage[];
  /** The SDK's connection state: `connecting`, `syncing`, `live`, `reconnecting`, `closed`. */
  state: State;
  /** The other users typing now. */
  typing: string[];
  /** The users online in this conversation (empty while not live). */
  presence: string[];
  /** Members' read positions (the last seq each has read). */
  readPositions: ReadonlyMap<string, number>;
  /** The last error reported (a refusal, a fatal close), until `clearError()`. */
  error: ParleyClientError | undefined;
  /** Whether the first page of history is in `messages`. */
  loaded: boolean;
  /** Whether older messages can be loaded with `loadEarlier()`. */
  hasMore: boolean;
  /** Whether `loadEarlier()` is running. */
  loadingEarlier: boolean;
  /** The last seq of the log seen (resume later with `{ after: lastSeq }`). */
  lastSeq: number | undefined;
}

const DEFAULT_PAGE = 50;
/** A failed first page is asked again after this long, at most this many times in a row. */
const RELOAD_MS = 2000;
const MAX_RELOADS = 30;

const notOpen = () => Promise.reject(new ParleyClientError("closed", "the conversation is not open"));

/** The external store behind `useConversation(id)`: one per client and conversation id. */
export class ConversationStore extends ExternalStore<ConversationSnapshot> {
  #conversation: Conversation | undefined;
  #offs: Array<() => void> = [];
  /** The lowest seq of the range shown (what is below it was not loaded). */
  #from: number | undefined;
  #loaded = false;
  #loading = false;
  #hasMore = false;
  #loadingEarlier = false;
  #reloads = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #error: ParleyClientError | undefined;
  /** Sends on their way, as the outbox reported them (`queued` until `sent` or `failed`). */
  #queued = new Map<string, OutboxEntry>();
  /** Sends the outbox refused, until dismissed. */
  #failed = new Map<string, OutgoingMessage>();
  /**
   * Each opening of the conversation and each reset of its log: a page read for an older one
   * is dropped.
   */
  #generation = 0;
  readonly #pageSize: number;

  constructor(
    private readonly client: ParleyClient,
    readonly id: string,
    private readonly options: UseConversationOptions = {},
  ) {
    super();
    this.#pageSize = Math.max(1, Math.min(200, options.pageSize ?? DEFAULT_PAGE));
  }

  /** The SDK conversation while open (undefined before the first subscriber and after release). */
  get conversation(): Conversation | undefined {
    return this.#conversation;
  }

  // ---- actions (stable functions: safe in dependency lists) ---------------------------------

  /** Sends a message; resolves with it once durable (see `Conversation.send`). */
  readonly send = (body: string, options?: { meta?: Record<string, unknown>; replyTo?: number }) =>
    this.#act((c) => c.send(body, options));
  /** Sends a reply to message `seq`. */
  readonly reply = (seq: number, body: string, options?: { meta?: Record<string, unknown> }) =>
    this.#act((c) => c.reply(seq, body, options));
  /** Edits your message `seq` (shown at once, rolled back if refused). */
  readonly edit = (seq: number, fields: EditFields) => this.#act((c) => c.edit(seq, fields));
  /** Deletes your message `seq` for everyone (a tombstone). */
  readonly remove = (seq: number) => this.#act((c) => c.delete(seq));
  /** Adds your reaction `key` to message `seq`. */
  readonly react = (seq: number, key: string) => this.#act((c) => c.react(seq, key));
  /** Removes your reaction `key` from message `seq`. */
  readonly unreact = (seq: number, key: string) => this.#act((c) => c.unreact(seq, key));

  /** Marks everything up to `seq` (default: the last message shown) as read. */
  readonly markRead = (seq?: number): Promise<void> => {
    const c = this.#conversation;
    if (!c) return notOpen();
    const last = seq ?? this.getSnapshot().messages.at(-1)?.seq;
    if (last === undefined) return Promise.resolve();
    return quiet(c.markRead(last));
  };

  /** Tells the others you are typing: call it on every keystroke (the SDK throttles it). */
  readonly signalTyping = (): void => this.#conversation?.typing();

  /** Loads the page of history before the first message shown. */
  readonly loadEarlier = async (): Promise<void> => {
    const c = this.#conversation;
    const first = this.#from;
    if (!c || first === undefined || !this.#hasMore || this.#loadingEarlier) return;
    const generation = this.#generation;
    this.#loadingEarlier = true;
    this.changed();
    try {
      const page = await c.history({ before: first, limit: this.#pageSize });
      if (generation !== this.#generation) return;
      const older = page.messages.filter((m) => m.seq < first);
      if (older[0]) this.#from = older[0].seq;
      this.#hasMore = page.hasMore && older.length > 0;
    } catch (error) {
      if (generation === this.#generation) this.#setError(error);
    } finally {
      if (generation === this.#generation) {
        this.#loadingEarlier = false;
        this.changed();
      }
    }
  };

  /** Forgets a refused send (after showing it, or after `retry`). */
  readonly dismiss = (clientMessageId: string): void => {
    if (this.#failed.delete(clientMessageId)) this.changed();
  };

  /** Sends a refused message again (a new send: the relay refused the old one for good). */
  readonly retry = (clientMessageId: string): Promise<Message> => {
    const failed = this.#failed.get(clientMessageId);
    if (!failed) return Promise.reject(new ParleyClientError("not_found", "no such failed send"));
    this.dismiss(clientMessageId);
    return this.send(failed.body, { meta: failed.meta, replyTo: failed.replyTo });
  };

  /** Clears `error`. */
  readonly clearError = (): void => {
    if (this.#error === undefined) return;
    this.#error = undefined;
    this.changed();
  };

  /**
   * Runs an SDK call. Its promise is returned as it is (it rejects on a refusal), but a caller
   * that ignores it causes no unhandled rejection: the refusal also shows in `error`.
   */
  #act(run: (c: Conversation) => Promise<Message>): Promise<Message> {
    const c = this.#conversation;
    return quiet(c ? run(c) : notOpen());
  }

  // ---- lifetime ----------------------------------------------------------------------------

  protected override acquire(): void {
    this.#generation++;
    this.#error = undefined;
    this.#failed.clear();
    this.#from = this.options.after === undefined ? undefined : this.options.after + 1;
    this.#loaded = this.#loading = this.#loadingEarlier = false;
    this.#hasMore = (this.options.after ?? 0) > 0;
    this.#reloads = 0;
    let c: Conversation;
    try {
      c = this.client.conversation(
        this.id,
        this.options.after === undefined ? {} : { after: this.options.after },
      );
    } catch (error) {
      this.#setError(error);
      return;
    }
    this.#conversation = c;
    const changed = () => this.changed();
    this.#offs = [
      c.on("message", changed),
      c.on("updated", changed),
      c.on("state", changed),
      c.on("typing", changed),
      c.on("presence", changed),
      c.on("read", changed),
      c.on("queued", (entry) => {
        this.#queued.set(entry.clientMessageId, entry);
        changed();
      }),
      c.on("sent", ({ clientMessageId }) => {
        this.#queued.delete(clientMessageId);
        changed();
      }),
      c.on("failed", ({ clientMessageId, error }) => {
        const entry = this.#queued.get(clientMessageId);
        this.#queued.delete(clientMessageId);
        if (entry) this.#failed.set(clientMessageId, { ...outgoing(entry), status: "failed", error });
        changed();
      }),
      c.on("error", (error) => this.#setError(error)),
      c.on("synced", ({ lastSeq }) => {
        if (!this.#loaded && this.#conversation === c) this.#loadLatest(c, lastSeq);
        changed();
      }),
      c.on("reset", ({ lastSeq }) => {
        // The relay's log went backwards: what was shown may be gone; start over from its end
        // (a page of the old log still on its way is dropped).
        this.#generation++;
        this.#loading = false;
        this.#loaded = false;
        this.#from = undefined;
        this.#hasMore = false;
        this.#loadLatest(c, lastSeq);
        changed();
      }),
    ];
    for (const entry of c.pending) this.#queued.set(entry.clientMessageId, entry);
    // An object kept open for its outbox is already caught up: load from where it is.
    if (c.lastSeq !== undefined) this.#loadLatest(c, c.lastSeq);
  }

  protected override release(): void {
    this.#generation++;
    clearTimeout(this.#timer);
    for (const off of this.#offs.splice(0)) off();
    const c = this.#conversation;
    this.#conversation = undefined;
    this.#queued.clear();
    if (!c) return;
    if (c.pending.length === 0) {
      c.close();
      return;
    }
    // Unsent messages: keep it open until they are stored or refused (as the widget does),
    // unless a component opens it again meanwhile (then it is the same object).
    const check = () => {
      if (c.pending.length > 0 || this.#conversation === c) return;
      offSent();
      offFailed();
      c.close();
    };
    const offSent = c.on("sent", () => queueMicrotask(check));
    const offFailed = c.on("failed", () => queueMicrotask(check));
  }

  /** The latest page up to `base`, where the live stream starts. */
  #loadLatest(c: Conversation, base: number): void {
    if (this.#loading) return;
    if (this.options.after !== undefined && this.#from !== undefined) {
      this.#loaded = true; // the replay from `after` is what is shown
      return;
    }
    if (base === 0) {
      this.#from = 1;
      this.#loaded = true;
      return;
    }
    const generation = this.#generation;
    this.#loading = true;
    c.history({ before: base + 1, limit: this.#pageSize }).then(
      (page) => {
        this.#loading = false;
        if (generation !== this.#generation) return;
        this.#from = page.messages[0]?.seq ?? base + 1;
        this.#hasMore = page.hasMore;
        this.#loaded = true;
        this.#reloads = 0;
        this.changed();
      },
      (error: unknown) => {
        this.#loading = false;
        if (generation !== this.#generation) return;
        this.#setError(error);
        if (++this.#reloads > MAX_RELOADS) return;
        this.#timer = setTimeout(() => {
          if (generation === this.#generation && !this.#loaded) this.#loadLatest(c, c.lastSeq ?? base);
        }, RELOAD_MS);
      },
    );
  }

  #setError(error: unknown): void {
    this.#error =
      error instanceof ParleyClientError
        ? error
        : new ParleyClientError("internal", String(error), { cause: error });
    this.changed();
  }

  protected override build(): ConversationSnapshot {
    const c = this.#conversation;
    const from = this.#from;
    const messages = c && this.#loaded && from !== undefined ? c.messages.filter((m) => m.seq >= from) : [];
    const stored = new Set(messages.map((m) => m.clientMessageId));
    const sending: OutgoingMessage[] = [];
    for (const entry of this.#queued.values()) {
      if (!stored.has(entry.clientMessageId)) sending.push({ ...outgoing(entry), status: "sending" });
    }
    return {
      messages,
      pending: [...sending, ...this.#failed.values()],
      state: c?.state ?? (this.isOpen ? State.Closed : State.Connecting),
      typing: c?.typingUsers ?? [],
      presence: c?.online ?? [],
      readPositions: new Map(c?.readPositions ?? []),
      error: this.#error,
      loaded: this.#loaded,
      hasMore: this.#hasMore,
      loadingEarlier: this.#loadingEarlier,
      lastSeq: c?.lastSeq,
    };
  }
}

function outgoing(entry: OutboxEntry): Omit<OutgoingMessage, "status"> {
  const out: Omit<OutgoingMessage, "status"> = { clientMessageId: entry.clientMessageId, body: entry.body };
  if (entry.meta !== undefined) out.meta = entry.meta;
  if (entry.replyTo !== undefined) out.replyTo = entry.replyTo;
  return out;
}

/** The same promise, with a handler attached so that ignoring it is not an unhandled rejection. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

const stores = new WeakMap<ParleyClient, Map<string, ConversationStore>>();

/** The one store of conversation `id` on `client` (its options are those of its first use). */
export function conversationStore(
  client: ParleyClient,
  id: string,
  options?: UseConversationOptions,
): ConversationStore {
  let byId = stores.get(client);
  if (!byId) {
    byId = new Map();
    stores.set(client, byId);
  }
  let store = byId.get(id);
  if (!store) {
    store = new ConversationStore(client, id, options);
    byId.set(id, store);
  }
  return store;
}
