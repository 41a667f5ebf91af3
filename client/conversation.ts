/**
 * One conversation as the application sees it: its log (new messages, and changes to earlier
 * ones) exactly once and in order, the messages folded to their latest state, `send()` and the
 * changes (`edit`, `delete`, `react`, `unreact`, `reply`) through a durable outbox, typing, read
 * receipts and presence, over whichever transport works, with an explicit state machine (see
 * `State`).
 */
import type { BackoffOptions } from "./backoff.ts";
import { isParleyClientError, ParleyClientError } from "./errors.ts";
import { FallbackPolicy } from "./fallback-policy.ts";
import type { FetchLike, HttpApi } from "./http.ts";
import { MessageStates } from "./message-state.ts";
import { Outbox } from "./outbox/outbox.ts";
import type { ChangeRequest, OutboxEntry, OutboxStorage } from "./outbox/storage.ts";
import { ReadReceipts } from "./read-receipts.ts";
import { Reason, UpdateCause } from "./reasons.ts";
import { entryKey, entrySeq, Sequencer } from "./sequencer.ts";
import { Session, type SessionEvents } from "./session.ts";
import { State } from "./state.ts";
import type { TokenSource } from "./token.ts";
import { LongPollTransport } from "./transports/longpoll.ts";
import { SseTransport } from "./transports/sse.ts";
import type {
  Transport,
  TransportClose,
  TransportHandlers,
  TransportKind,
  TransportTimings,
} from "./transports/transport.ts";
import { WebSocketTransport } from "./transports/websocket.ts";
import type {
  Change,
  ClientFrame,
  EditFields,
  HistoryPage,
  LogEntry,
  Message,
  ServerFrame,
} from "./types.ts";
import { type TypingChange, TypingTracker } from "./typing.ts";
import type { WakeTargets } from "./wake.ts";

/** Which transport to use; `auto` starts on WebSocket and falls back (and upgrades back). */
export type TransportPreference = "auto" | TransportKind;

/** Events of a conversation. */
export interface ConversationEvents extends SessionEvents {
  /**
   * A new message, exactly once per seq, in seq order with `change` (yours included). It comes
   * in its latest state: on a resume it may already be edited or deleted.
   */
  message: Message;
  /**
   * A change of the log (an edit, deletion or reaction, by anyone), exactly once per seq, in seq
   * order with `message`. `message` is the changed message as it is now (see `updated`).
   */
  change: { change: Change; message: Message };
  /**
   * A message has a new state to show: render `message` in place of the one with its seq. It
   * follows every `change`, your own changes at once (optimistic) and when one is refused
   * (rolled back), and a newer state read over HTTP. States only move forward: never an older
   * edit than one emitted, never a deleted message's body.
   */
  updated: { message: Message; cause: UpdateCause };
  /**
   * One of your changes (`edit`, `delete`, `react`, `unreact`) was refused for good: not yours
   * (`forbidden`), no such message (`not_found`), deleted or over a reaction cap (`conflict`),
   * too large (`too_large`) …; an `updated` with cause `rollback` has just undone it.
   */
  changeFailed: { change: ChangeRequest; error: ParleyClientError; message: Message | undefined };
  /** A catch-up finished: every entry up to `lastSeq` has been emitted. */
  synced: { lastSeq: number };
  /**
   * The relay's log no longer holds what this conversation emitted above `lastSeq` (up to
   * `previousLastSeq`): its database was wiped or restored from an older backup, and those seqs
   * are handed out again to new entries. Seen on a resume, either because the relay's log ends
   * below the cursor or because it holds another entry at the cursor (the last 256 entries are
   * compared, so `lastSeq` is where the logs part, or the oldest of those). The conversation now
   * follows the relay's log from `lastSeq`: entries above it are emitted again, and messages
   * you show above it may no longer exist; reload them (`history()`).
   */
  reset: { lastSeq: number; previousLastSeq: number };
  /** Someone started or stopped typing (not available over long-poll). */
  typing: TypingChange;
  /** A member's read position: when first learnt (0: nothing read yet), then each time it moves forward. */
  read: { userId: string; seq: number };
  /** Who is online in this conversation changed (the whole set; empty while disconnected). */
  presence: { online: string[] };
  /**
   * A message entered the outbox: from `send()` or `reply()`, or restored from storage after a
   * reload. Show it as pending until `sent` or `failed` names its `clientMessageId`. (Changes do
   * not come here: they show at once through `updated`.)
   */
  queued: OutboxEntry;
  /** An outbox entry was stored by the relay (also for entries restored after a reload). */
  sent: { clientMessageId: string; message: Message };
  /** An outbox entry was refused for good (conflict, too large, forbidden …). */
  failed: { clientMessageId: string; error: ParleyClientError };
  /** The transport changed (fallback or upgrade). */
  transport: { kind: TransportKind; reason: Reason };
}

/** Options of `client.conversation(id, options)`. */
export interface ConversationOptions {
  /**
   * Resume after this seq (the last one your app has). `0` replays the whole history; left
   * out, the conversation starts at its current end (load older messages with `history()`).
   */
  after?: number;
}

/** @internal Everything a conversation needs from its client. */
export interface ConversationConfig {
  id: string;
  api: HttpApi;
  tokens: TokenSource;
  fetch: FetchLike;
  baseUrl: string;
  instanceId: string;
  userId: () => string | undefined;
  transport: TransportPreference;
  WebSocket: unknown;
  webSocketAvailable: boolean;
  sendOver: "http" | "socket";
  timings: TransportTimings;
  reconnectDelay: BackoffOptions;
  retryDelay: BackoffOptions;
  fallbackAfter: number;
  upgradeAfterMs: number;
  typingThrottleMs: number;
  ackTimeoutMs: number;
  outbox: OutboxStorage;
  scope: () => Promise<string>;
  wake: WakeTargets;
  after: number | undefined;
  onClosed: () => void;
}

interface PendingAck {
  resolve: (m: Message) => void;
  reject: (e: ParleyClientError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const MAX_UPGRADE_DELAY_MS = 10 * 60_000;
/** An acknowledged change not shown by the log after this long (live) is dropped. */
const ACKED_CHANGE_MS = 10_000;

export class Conversation extends Session<ConversationEvents> {
  /** The conversation id. */
  readonly id: string;
  #cfg: ConversationConfig;
  #seq: Sequencer;
  #outbox: Outbox;
  #typing: TypingTracker;
  #typingSentAt = 0;
  #kind: TransportKind;
  /** Per transport: when `auto` falls back from it. */
  #fallback: Record<TransportKind, FallbackPolicy>;
  #acks = new Map<string, PendingAck>();
  #states: MessageStates;
  /** Connections opened so far (to tell which caught up after a change was acknowledged). */
  #opened = 0;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #reads: ReadReceipts;
  #online: string[] = [];
  #upgradeTimer: ReturnType<typeof setTimeout> | undefined;
  #upgradeDelay: number;
  #livenessTimer: ReturnType<typeof setInterval> | undefined;
  #probing = false;

  /** @internal Use `client.conversation(id)`. */
  constructor(cfg: ConversationConfig) {
    super({ tokens: cfg.tokens, reconnectDelay: cfg.reconnectDelay, wake: cfg.wake });
    this.id = cfg.id;
    this.#cfg = cfg;
    this.#fallback = {
      websocket: new FallbackPolicy(cfg.fallbackAfter),
      sse: new FallbackPolicy(cfg.fallbackAfter),
      longpoll: new FallbackPolicy(cfg.fallbackAfter),
    };
    this.#upgradeDelay = cfg.upgradeAfterMs;
    this.#kind = cfg.transport === "auto" ? (cfg.webSocketAvailable ? "websocket" : "sse") : cfg.transport;
    this.#states = new MessageStates(cfg.userId);
    this.#seq = new Sequencer({
      lastSeq: cfg.after,
      fetchAfter: (after, limit) => cfg.api.log(cfg.id, { after, limit }),
      deliver: (entry) => this.#deliver(entry),
      onSynced: (lastSeq) => this.#onSynced(lastSeq),
      onFillFailed: () => this.disconnect(Reason.GapFillFailed, { reconnect: true }),
      onDiverged: (lastSeq, previousLastSeq) => this.#logReset(lastSeq, previousLastSeq),
    });
    this.#typing = new TypingTracker((change) => this.emit("typing", change));
    this.#reads = new ReadReceipts({
      send: (seq) => this.#sendRead(seq),
      retryDelay: cfg.retryDelay,
      isClosed: () => this.state === State.Closed,
      onChange: (userId, seq) => this.emit("read", { userId, seq }),
      onError: (error) => this.reportError(error),
    });
    this.#outbox = new Outbox({
      storage: cfg.outbox,
      scope: cfg.scope,
      conversationId: cfg.id,
      transmit: (entry) => this.#transmit(entry),
      retryDelay: cfg.retryDelay,
      onQueued: (entry) => {
        if (!entry.change) return this.emit("queued", entry);
        this.#states.add(entry.clientMessageId, entry.change);
        this.#updated(entry.change.seq, UpdateCause.Optimistic);
      },
      onSent: (entry, message) => {
        if (!entry.change) {
          this.#states.put(message, message.seq);
          return this.emit("sent", { clientMessageId: entry.clientMessageId, message });
        }
        // A target this conversation has not seen: the relay's answer is all it knows of it.
        if (!this.#states.known(message.seq)) this.#states.put(message, 0);
        this.#states.ack(entry.clientMessageId, this.#opened);
        this.#expireLater(entry.clientMessageId);
      },
      onFailed: (entry, error) => {
        const change = entry.change;
        if (!change) {
          this.emit("failed", { clientMessageId: entry.clientMessageId, error });
        } else {
          this.#states.remove(entry.clientMessageId);
          const message = this.#updated(change.seq, UpdateCause.Rollback);
          this.emit("changeFailed", { change, error, message });
        }
        this.reportError(error);
      },
      onStorageError: (error) =>
        this.reportError(
          new ParleyClientError("storage", `outbox storage: ${String(error)}`, { cause: error }),
        ),
    });
    void this.#outbox.restore();
    this.start();
  }

  // ---- public API --------------------------------------------------------------------------

  /**
   * The last seq of the log emitted (a `message` or a `change`; undefined until the first
   * catch-up). Keep it to resume later with `{ after: lastSeq }`.
   */
  get lastSeq(): number | undefined {
    return this.#seq.lastSeq;
  }

  /**
   * The messages this conversation knows (emitted, sent, or read with `history()`),
   * ascending by seq, each as a UI shows it: latest state, your pending changes applied. At most
   * the 10 000 learned last are kept.
   */
  get messages(): Message[] {
    return this.#states.all();
  }

  /** One known message as a UI shows it (see `messages`), or undefined. */
  message(seq: number): Message | undefined {
    return this.#states.get(seq);
  }

  /** The transport in use or being tried. */
  get transportKind(): TransportKind {
    return this.#kind;
  }

  /** Users typing now. */
  get typingUsers(): string[] {
    return this.#typing.users;
  }

  /** Users online now (as of the last presence update; empty while disconnected). */
  get online(): string[] {
    return [...this.#online];
  }

  /** Members' read positions (last seq each has read), as far as known. */
  get readPositions(): ReadonlyMap<string, number> {
    return this.#reads.positions;
  }

  /** Sends (and replies) not yet stored by the relay, oldest first. */
  get pending(): OutboxEntry[] {
    return this.#outbox.pending.filter((e) => !e.change);
  }

  /** Your changes (in `change`) the relay does not have yet, oldest first. */
  get pendingChanges(): OutboxEntry[] {
    return this.#outbox.pending.filter((e) => e.change);
  }

  /** Duplicates dropped by seq so far (a replay overlapping live frames, a transport swap). */
  get duplicatesDropped(): number {
    return this.#seq.duplicatesDropped;
  }

  /**
   * Sends a message. Resolves with the stored message (its `seq` assigned by the relay) once it
   * is durable; retried with the same `clientMessageId` until then. Rejects only for refusals
   * that a retry cannot fix (409, 413, 403 …) or when the conversation is closed (the entry
   * stays in the outbox and goes out when the conversation is opened again).
   */
  send(body: string, options: { meta?: Record<string, unknown>; replyTo?: number } = {}): Promise<Message> {
    return this.#outbox.send({ body, meta: options.meta, replyTo: options.replyTo });
  }

  /** Sends a message that answers message `seq` (`replyTo`); as `send()` otherwise. */
  reply(seq: number, body: string, options: { meta?: Record<string, unknown> } = {}): Promise<Message> {
    return this.send(body, { ...options, replyTo: seq });
  }

  /**
   * Edits your message `seq`: a new `body` and/or `meta` (null removes it). Shown at once
   * (`updated`), then sent through the outbox like a message; resolves with the message as
   * edited. Refused for good (rolled back, `changeFailed`): not your message (`forbidden`), no
   * such message (`not_found`), deleted (`conflict`), over the body limit (`too_large`).
   */
  edit(seq: number, fields: EditFields): Promise<Message> {
    const change: ChangeRequest = { kind: "edit", seq };
    if (fields.body !== undefined) change.body = fields.body;
    if (fields.meta !== undefined) change.meta = fields.meta;
    return this.#change(change);
  }

  /**
   * Deletes your message `seq` for everyone: it becomes a tombstone (`deleted`, body ""). Shown
   * at once, sent through the outbox; deleting it again changes nothing.
   */
  delete(seq: number): Promise<Message> {
    return this.#change({ kind: "delete", seq });
  }

  /**
   * Adds your reaction `key` (an emoji or a short name, 1–32 bytes) to message `seq`. Shown at
   * once, sent through the outbox; adding one you have changes nothing. Refused for good
   * (rolled back): over a cap of reaction keys, or a deleted message (`conflict`).
   */
  react(seq: number, key: string): Promise<Message> {
    return this.#change({ kind: "react", seq, key });
  }

  /** Removes your reaction `key` from message `seq` (as `react()`). */
  unreact(seq: number, key: string): Promise<Message> {
    return this.#change({ kind: "unreact", seq, key });
  }

  /** Queues a change (the relay refuses a bad one: 400, rolled back like any refusal). */
  #change(change: ChangeRequest): Promise<Message> {
    return this.#outbox.send({ body: "", change }).then((m) => this.#states.get(m.seq) ?? m);
  }

  /** Tells the others you are typing; call it on every keystroke (it is throttled). */
  typing(): void {
    if (this.state === State.Closed) return;
    const now = Date.now();
    if (now - this.#typingSentAt < this.#cfg.typingThrottleMs) return;
    this.#typingSentAt = now;
    if (this.#socketSending() && this.transport?.send({ type: "typing" })) return;
    this.#cfg.api.typing(this.id).catch(() => {
      // Ephemeral: a lost typing signal is not worth a retry.
      this.#typingSentAt = 0;
    });
  }

  /**
   * Marks everything up to `seq` as read (never moves backward). Resolves once the relay has
   * it (over HTTP) or it was written to the socket.
   */
  markRead(seq: number): Promise<void> {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      return Promise.reject(new ParleyClientError("bad_request", "seq must be a non-negative integer"));
    }
    return this.#reads.mark(seq);
  }

  /**
   * A page of history over HTTP (not emitted as events): e.g. `{ before: firstSeq, limit: 50 }`.
   * Its messages are as a UI shows them: never older than a state already emitted.
   */
  async history(query: { before?: number; after?: number; limit?: number } = {}): Promise<HistoryPage> {
    const page = await this.#cfg.api.history(this.id, query);
    return { ...page, messages: page.messages.map((m) => this.#learn(m, page.lastSeq)) };
  }

  /** A state read over HTTP, current at `asOf` at least: kept if newer (and told, if known). */
  #learn(m: Message, asOf: number): Message {
    const known = this.#states.known(m.seq);
    if (this.#states.put(m, asOf) && known) this.#updated(m.seq, UpdateCause.Refresh);
    return this.#states.get(m.seq) ?? m;
  }

  /**
   * An acknowledged change normally shows in the log within moments; one that has not after
   * {@link ACKED_CHANGE_MS} of being live never will (it was undone meanwhile): drop it.
   */
  #expireLater(id: string): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.state !== State.Live) return this.#expireLater(id);
      const seq = this.#states.expire(id);
      if (seq !== undefined) this.#updated(seq, UpdateCause.Change);
    }, ACKED_CHANGE_MS);
    this.#timers.add(timer);
  }

  /** Emits `updated` for `seq` when it is known; returns its state. */
  #updated(seq: number, cause: UpdateCause): Message | undefined {
    const message = this.#states.get(seq);
    if (message) this.emit("updated", { message, cause });
    return message;
  }

  // ---- session hooks -----------------------------------------------------------------------

  protected override async beforeConnect(): Promise<Reason | undefined> {
    if (this.#cfg.transport !== "auto" || this.#kind === "longpoll") return;
    const httpWorks = () =>
      // A 401 is the token's fault, not the transport's: no renewal here (the session renews).
      this.#cfg.api.conversation(this.id, { renew: false }).then(
        () => true,
        () => false,
      );
    if (!(await this.#fallback[this.#kind].shouldFallBack(httpWorks))) return;
    this.#setKind(this.#kind === "websocket" ? "sse" : "longpoll", Reason.TransportFallback);
    return Reason.TransportFallback;
  }

  protected override openTransport(token: string, handlers: TransportHandlers): Transport {
    return this.#createTransport(this.#kind, token, handlers);
  }

  /** The seq each transport resumed after (its `after`), to tell a log that went backwards. */
  #resumedAfter = new WeakMap<Transport, number>();
  /** The entry each transport's replay must start with, when it resumed one entry early. */
  #overlap = new WeakMap<Transport, { seq: number; key: string }>();

  /** The relay's log above `lastSeq` is not the one delivered (a wipe or an older backup). */
  #logReset(lastSeq: number, previousLastSeq: number): void {
    // What is known (and pending changes' targets) belongs to the old log.
    this.#states.clear();
    this.#outbox.discard(
      (e) => e.change !== undefined,
      new ParleyClientError("conflict", "the relay's log was reset: the change was not made"),
    );
    this.emit("reset", { lastSeq, previousLastSeq });
  }

  protected override onTransportOpen(transport: Transport): void {
    this.#opened++;
    this.#seq.reset();
    if (transport.kind !== this.#kind) this.#setKind(transport.kind, Reason.TransportUpgrade);
  }

  protected override onFrame(frame: ServerFrame, transport: Transport): void {
    switch (frame.type) {
      case "message":
      case "change": {
        // The replay starts one entry early, at the cursor: is it still the entry delivered there?
        const check = this.#overlap.get(transport);
        if (check && entrySeq(frame) === check.seq) {
          this.#overlap.delete(transport);
          if (entryKey(frame) === check.key) return; // the same log: already delivered
          this.#seq.diverged();
        }
        this.#seq.receive(frame);
        return;
      }
      case "synced": {
        // A replay that ends below the seq this transport resumed after: every seq up to that
        // one was committed before we got it, so the relay's log itself went backwards.
        const resumedAfter = this.#resumedAfter.get(transport);
        this.#overlap.delete(transport);
        if (resumedAfter !== undefined && frame.lastSeq < resumedAfter) {
          this.#seq.rewind(frame.lastSeq);
          this.#logReset(frame.lastSeq, resumedAfter);
        }
        this.#seq.synced(frame.lastSeq);
        return;
      }
      case "typing":
        if (frame.userId !== this.#cfg.userId()) this.#typing.set(frame.userId, frame.expiresAt);
        return;
      case "read":
        this.#reads.apply(frame.userId, frame.seq);
        return;
      case "presence":
        // The full list after `synced` replaces the set; then deltas are folded into it.
        this.#applyPresence(
          "online" in frame
            ? frame.online
            : this.#online.filter((u) => !frame.left.includes(u)).concat(frame.joined),
        );
        return;
      case "ack": {
        const id = frame.clientMessageId ?? frame.ref;
        if (id !== undefined) this.#settleAck(id, frame.message);
        return;
      }
      case "error": {
        const error = new ParleyClientError(frame.code, frame.message);
        const id = frame.clientMessageId ?? frame.ref;
        if (id !== undefined && this.#acks.has(id)) {
          this.#settleAck(id, error);
        } else {
          this.reportError(error);
        }
        return;
      }
      default:
        return;
    }
  }

  protected override onTransportEnd(info: TransportClose, reachedLive: boolean): void {
    const kind = this.#kind;
    if (reachedLive) this.#fallback[kind].succeeded();
    else if (!info.heartbeatTimeout || !info.opened) this.#fallback[kind].failed();
  }

  protected override onCandidateFailed(): void {
    this.#upgradeDelay = Math.min(MAX_UPGRADE_DELAY_MS, this.#upgradeDelay * 2);
    this.#scheduleUpgrade();
  }

  protected override onDisconnected(): void {
    clearTimeout(this.#upgradeTimer);
    this.#upgradeTimer = undefined;
    clearInterval(this.#livenessTimer);
    this.#livenessTimer = undefined;
    // Unknown while away: the next connection's full list starts it again. Typing too: a stop
    // (a sent message, an expiry the relay no longer tells) could not reach us meanwhile.
    this.#applyPresence([]);
    this.#typing.clearAll();
    for (const [key] of this.#acks) {
      this.#settleAck(key, new ParleyClientError("disconnected", "the socket closed before the ack"));
    }
  }

  protected override onClosed(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#outbox.close();
    this.#typing.dispose();
    this.#cfg.onClosed();
  }

  // ---- receiving ---------------------------------------------------------------------------

  #deliver(entry: LogEntry): void {
    const seq = entrySeq(entry);
    this.#states.put(entry.message, seq);
    if (entry.type === "message") {
      this.#typing.clear(entry.message.senderId);
      // One of ours still in the outbox (its ack was lost, and a retry is on its way): it is
      // sent, and says so before it shows as a message, so it is never pending and shown at once.
      if (entry.message.senderId === this.#cfg.userId())
        this.#outbox.settle(entry.message.clientMessageId, entry.message);
      this.emit("message", this.#states.get(seq) ?? entry.message);
      return;
    }
    const { change } = entry;
    this.#states.confirm(change.target, change);
    const message = this.#states.get(change.target) ?? entry.message;
    this.emit("change", { change, message });
    this.emit("updated", { message, cause: UpdateCause.Change });
  }

  #onSynced(lastSeq: number): void {
    // Changes acknowledged before this connection opened are in what it replayed.
    for (const seq of new Set(this.#states.caughtUp(this.#opened))) this.#updated(seq, UpdateCause.Change);
    this.markLive(Reason.Synced);
    this.emit("synced", { lastSeq });
    this.#outbox.kick();
    void this.#refreshReadPositions();
    this.#scheduleUpgrade();
    this.#startLivenessProbe();
  }

  #applyPresence(online: string[]): void {
    const next = [...new Set(online)].sort();
    if (JSON.stringify(next) === JSON.stringify(this.#online)) return;
    this.#online = next;
    this.emit("presence", { online: [...next] });
  }

  /** Read positions may have moved while we were away (read frames are not replayed). */
  async #refreshReadPositions(): Promise<void> {
    try {
      const info = await this.#cfg.api.conversation(this.id);
      for (const m of info.members) this.#reads.apply(m.userId, m.lastReadSeq);
      this.#reads.reconcile(this.#cfg.userId());
    } catch {
      // The next catch-up tries again.
    }
  }

  // ---- sending -----------------------------------------------------------------------------

  /** Whether client frames go over the socket now. */
  #socketSending(): boolean {
    return (
      this.#cfg.sendOver === "socket" &&
      this.state === State.Live &&
      this.transport?.canSend === true &&
      this.transport.kind === "websocket"
    );
  }

  /**
   * One attempt to have the relay store an outbox entry (a send or a change): over the socket
   * (waits for the ack with its key or `ref`) or HTTP.
   */
  #transmit(entry: OutboxEntry): Promise<Message> {
    const { clientMessageId: id, change } = entry;
    const send = { clientMessageId: id, body: entry.body, meta: entry.meta, replyTo: entry.replyTo };
    const viaSocket = this.#cfg.sendOver === "socket" && this.#kind === "websocket";
    if (!viaSocket) {
      const api = this.#cfg.api;
      const ms = this.#cfg.ackTimeoutMs;
      return change ? api.change(this.id, change, ms) : api.sendMessage(this.id, send, ms);
    }
    let frame: ClientFrame;
    if (change) {
      const { kind, ...fields } = change;
      frame = { type: kind, ...fields, ref: id } as ClientFrame;
    } else {
      frame = { type: "send", ...send };
    }
    if (!this.#socketSending()) {
      return Promise.reject(new ParleyClientError("disconnected", "waiting for the socket to be live"));
    }
    return new Promise<Message>((resolve, reject) => {
      this.#settleAck(id, new ParleyClientError("disconnected", "superseded"));
      const timer = setTimeout(
        () => this.#settleAck(id, new ParleyClientError("timeout", "no ack in time")),
        this.#cfg.ackTimeoutMs,
      );
      this.#acks.set(id, { resolve, reject, timer });
      if (!this.transport?.send(frame)) {
        this.#settleAck(id, new ParleyClientError("disconnected", "the socket is not open"));
      }
    });
  }

  #settleAck(clientMessageId: string, outcome: Message | ParleyClientError): void {
    const pending = this.#acks.get(clientMessageId);
    if (!pending) return;
    this.#acks.delete(clientMessageId);
    clearTimeout(pending.timer);
    if (isParleyClientError(outcome)) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  /** Our read position: a socket frame when sending over the socket, else HTTP. */
  async #sendRead(seq: number): Promise<void> {
    if (this.#socketSending() && this.transport?.send({ type: "read", seq })) return;
    await this.#cfg.api.read(this.id, seq);
  }

  // ---- transports: choice, fallback, upgrade, liveness --------------------------------------

  #setKind(kind: TransportKind, reason: Reason): void {
    if (kind === this.#kind) return;
    this.#kind = kind;
    this.emit("transport", { kind, reason });
  }

  #createTransport(kind: TransportKind, token: string, handlers: TransportHandlers): Transport {
    const after = this.#seq.lastSeq;
    // Resume one entry early when the entry at the cursor is known: a relay restored from an
    // older backup whose log has grown past the cursor again shows itself there (same seqs,
    // other entries), which `synced.lastSeq` alone cannot tell.
    const key = after === undefined ? undefined : this.#seq.keyAt(after);
    const from = after !== undefined && key !== undefined ? after - 1 : after;
    const transport = this.#transportAfter(kind, from, token, handlers);
    if (after !== undefined) this.#resumedAfter.set(transport, after);
    if (after !== undefined && key !== undefined) this.#overlap.set(transport, { seq: after, key });
    return transport;
  }

  #transportAfter(
    kind: TransportKind,
    after: number | undefined,
    token: string,
    handlers: TransportHandlers,
  ): Transport {
    const cfg = this.#cfg;
    switch (kind) {
      case "websocket":
        return new WebSocketTransport(
          {
            baseUrl: cfg.baseUrl,
            party: "conversation",
            room: this.id,
            query: { token, after: after === undefined ? undefined : String(after) },
            instanceId: cfg.instanceId,
            WebSocket: cfg.WebSocket,
          },
          cfg.timings,
          handlers,
        );
      case "sse":
        return new SseTransport(
          {
            url: cfg.api.url(`/v1/conversations/${encodeURIComponent(this.id)}/events`, {
              after,
              _pk: cfg.instanceId,
            }),
            token,
            fetch: cfg.fetch,
          },
          cfg.timings,
          handlers,
        );
      case "longpoll":
        return new LongPollTransport({ api: cfg.api, conversationId: this.id, after }, cfg.timings, handlers);
    }
  }

  /** `auto` on a fallback: try WebSocket again after a while (doubling after each failure). */
  #scheduleUpgrade(): void {
    const cfg = this.#cfg;
    if (cfg.transport !== "auto" || !cfg.webSocketAvailable || this.#kind === "websocket") return;
    if (this.#upgradeTimer !== undefined || this.hasCandidate || this.state !== State.Live) return;
    this.#upgradeTimer = setTimeout(() => {
      this.#upgradeTimer = undefined;
      void this.#tryUpgrade();
    }, this.#upgradeDelay);
  }

  async #tryUpgrade(): Promise<void> {
    if (this.state !== State.Live || this.#kind === "websocket") return;
    let token: string;
    try {
      token = await this.#cfg.tokens.get();
    } catch {
      return;
    }
    if (this.state !== State.Live) return;
    this.startCandidate(token, (handlers) => this.#createTransport("websocket", token, handlers));
  }

  /**
   * SSE liveness: a stalled stream can look open. After `heartbeatMs` of silence, ask over
   * HTTP how far the conversation is; if it is ahead of us and stays ahead for
   * `pongTimeoutMs`, the stream is dead. (WebSocket has its own ping; long-poll requests
   * time out.)
   */
  #startLivenessProbe(): void {
    clearInterval(this.#livenessTimer);
    this.#livenessTimer = undefined;
    if (this.transport?.kind !== "sse") return;
    const { heartbeatMs, pongTimeoutMs } = this.#cfg.timings;
    this.#livenessTimer = setInterval(
      () => {
        const t = this.transport;
        if (!t || this.#probing || t.idleMs() < heartbeatMs) return;
        this.#probing = true;
        void this.#probeStream(t, pongTimeoutMs).finally(() => {
          this.#probing = false;
        });
      },
      Math.max(50, Math.floor(heartbeatMs / 2)),
    );
  }

  async #probeStream(t: Transport, graceMs: number): Promise<void> {
    let behind: boolean;
    try {
      const info = await this.#cfg.api.conversation(this.id);
      behind = info.lastSeq > (this.#seq.lastSeq ?? info.lastSeq);
      if (behind) {
        const target = info.lastSeq;
        await new Promise((r) => setTimeout(r, graceMs));
        behind = (this.#seq.lastSeq ?? target) < target && t.idleMs() >= graceMs;
      }
    } catch (error) {
      behind = isParleyClientError(error) && (error.code === "network" || error.code === "timeout");
    }
    if (behind && this.transport === t && this.state === State.Live) {
      this.disconnect(Reason.HeartbeatTimeout, { reconnect: true });
    }
  }
}
