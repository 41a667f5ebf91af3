/**
 * The room actor of one conversation: the single writer of its log. It assigns seqs, commits
 * sends in groups (one transaction per batch), and only after a commit acks the senders and
 * fans the messages out. It owns the conversation's connections, typing, read positions and
 * presence. Runtime-free: web standards and the `Store` interface only.
 */
import type { ConversationView, HistoryPage } from "../../protocol/index.ts";
import type { Connection, ConnectionIdentity } from "./connection.ts";
import { idempotencyKey, sameContent } from "./content.ts";
import { CloseCode, ParleyError } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { type BufferedMessage, MessageBuffer } from "./message-buffer.ts";
import { frames, type OutboundFrame } from "./outbound-frame.ts";
import { PresenceTracker } from "./presence.ts";
import { RoomSocketFrames } from "./room-socket-frames.ts";
import { DuplicateMessageError, type RangeQuery, type Store, SupersededBatchError } from "./store.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { ConversationRecord, Message, SendInput, ThreadItem } from "./types.ts";
import { checkBodySize } from "./validation.ts";

/** Where thread-list changes go: the inbox actors of the members. */
export interface InboxRouter {
  /** Whether the user has a live inbox now (thread items are built only for listeners). */
  isListening(app: string, userId: string): boolean;
  deliver(app: string, userId: string, item: ThreadItem): void;
}

/** What a room needs from its host. */
export interface RoomEnvironment {
  store: Store;
  limits: Limits;
  inbox: InboxRouter;
  /** Background failures (fan-out, persistence, replay) end here; they never crash the host. */
  onError: (error: unknown, context: string) => void;
  now: () => number;
  /** Runs `fn` soon, after the I/O already queued: the group-commit window. */
  defer: (fn: () => void) => void;
  newMessageId: () => string;
}

export interface SendResult {
  message: Message;
  /** False when the key was seen before (HTTP 200 instead of 201). */
  created: boolean;
}

export interface HistoryQuery extends Omit<RangeQuery, "limit"> {
  limit: number;
  /** Long-poll: with `after`, hold up to this long for a message. */
  waitMs?: number | undefined;
}

export type { HistoryPage };

/** A connection as the room tracks it. */
export interface Peer {
  readonly conn: Connection;
  readonly identity: ConnectionIdentity;
  /** False while replaying: live fan-out skips it until the replay has caught up. */
  live: boolean;
  readonly releasePresence: () => void;
  readonly frameBucket: TokenBucket;
}

interface MemberState {
  lastReadSeq: number;
  /**
   * The member's own messages above lastReadSeq. Unread (others' messages above lastReadSeq)
   * is derived from it, so a commit touches only the sender, not every member.
   */
  ownAboveRead: number;
}

interface CommitPlan {
  fresh: Array<{ entry: PendingSend; message: Message }>;
  stored: Array<{ entry: PendingSend; message: Message }>;
}

interface PendingSend {
  key: string;
  senderId: string;
  input: SendInput;
  promise: Promise<SendResult>;
  resolve: (result: SendResult) => void;
  reject: (error: unknown) => void;
}

const toBuffered = (message: Message): BufferedMessage => ({ message, frame: frames.message(message) });

/**
 * How many of a room's batches may be on their way to the store at once. More than one lets a
 * room's sends join a group commit that is still gathering (measured: about 6% more durable
 * sends/s under `npm run bench`, interleaved runs); a few are enough for that.
 */
const MAX_BATCHES_IN_FLIGHT = 4;

export class ConversationRoom {
  readonly app: string;
  readonly id: string;
  #conversation: ConversationRecord;
  #members: Map<string, MemberState>;
  #memberIds: string[];
  #buffer: MessageBuffer;
  /** Idempotency keys of buffered messages; older keys are looked up in the store. */
  #keys = new Map<string, Message>();
  #pending: PendingSend[] = [];
  /** Sends queued or being committed, by key: a retry joins the first attempt. */
  #inFlight = new Map<string, PendingSend>();
  /** Batches handed to the store and not settled yet (see MAX_BATCHES_IN_FLIGHT). */
  #batchesInFlight = 0;
  /** The highest seq handed to the store, committed or not: the next batch follows it. */
  #plannedSeq = 0;
  /** A batch failed: no new batch leaves until the room has re-planned (`#recover`). */
  #recovering = false;
  /** Sends of batches the store superseded after that failure, in order: they go out again. */
  #superseded: PendingSend[] = [];
  #flushScheduled = false;
  /** Set after a failed commit: memory may be behind the store until the next resync. */
  #stale = false;
  #peers = new Set<Peer>();
  /** Waiting long-polls: each one's wake-up, by the user it serves. */
  #waiters = new Map<() => void, string>();
  #typing = new Map<string, { expiresAt: number; broadcastAt: number }>();
  #sendBuckets = new Map<string, TokenBucket>();
  #presence: PresenceTracker;
  #socketFrames: RoomSocketFrames;
  #busy = 0;
  #closed = false;
  lastUsedAt: number;

  private constructor(
    app: string,
    conversation: ConversationRecord,
    members: Map<string, MemberState>,
    recent: Message[],
    private readonly env: RoomEnvironment,
  ) {
    this.app = app;
    this.id = conversation.id;
    this.#conversation = conversation;
    this.#members = members;
    this.#memberIds = [...members.keys()];
    this.#buffer = new MessageBuffer(env.limits.bufferSize);
    this.#buffer.fill(recent);
    for (const m of recent) this.#keys.set(idempotencyKey(m.senderId, m.clientMessageId), m);
    this.#presence = new PresenceTracker(env.limits.presenceGraceMs, () =>
      this.#broadcast(frames.presence(this.#presence.online())),
    );
    this.#socketFrames = new RoomSocketFrames(this, env);
    this.lastUsedAt = env.now();
  }

  /** Loads a conversation from the store, or returns null when it does not exist. */
  static async load(app: string, id: string, env: RoomEnvironment): Promise<ConversationRoom | null> {
    const loaded = await env.store.loadConversation(app, id);
    if (!loaded) return null;
    // A fresh room plans from the store: nothing of an earlier instance's failed batch is pending.
    env.store.resumeAppends(app, id);
    const recent = await env.store.readRange(app, id, { limit: env.limits.bufferSize });
    const unread = await env.store.countUnread(app, id);
    const members = new Map<string, MemberState>();
    for (const m of loaded.members) {
      const aboveRead = loaded.conversation.lastSeq - m.lastReadSeq;
      members.set(m.userId, {
        lastReadSeq: m.lastReadSeq,
        ownAboveRead: aboveRead - (unread.get(m.userId) ?? 0),
      });
    }
    return new ConversationRoom(app, loaded.conversation, members, recent, env);
  }

  get lastSeq(): number {
    return this.#conversation.lastSeq;
  }

  /** True when nothing holds the room: it may be dropped from memory. */
  get idle(): boolean {
    return (
      this.#busy === 0 &&
      this.#peers.size === 0 &&
      this.#pending.length === 0 &&
      !this.#committing &&
      this.#waiters.size === 0 &&
      !this.#presence.active
    );
  }

  isMember(userId: string): boolean {
    return this.#members.has(userId);
  }

  #member(userId: string): MemberState {
    const member = this.#members.get(userId);
    if (!member) throw new ParleyError("forbidden", "you are not a member of this conversation");
    return member;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ParleyError("shutting_down", "the relay is shutting down; retry shortly", 1);
  }

  /** Wraps a public async operation so the room is not unloaded under it. */
  async #hold<T>(work: () => Promise<T>): Promise<T> {
    this.#busy++;
    this.lastUsedAt = this.env.now();
    try {
      return await work();
    } finally {
      this.#busy--;
    }
  }

  // ---- sending: idempotency, rate limit, group commit -------------------------------------

  /** Stores a message; resolves only after it is durable. */
  send(senderId: string, input: SendInput): Promise<SendResult> {
    return this.#hold(async () => {
      this.#assertOpen();
      this.#member(senderId);
      checkBodySize(input.body, this.env.limits.maxMessageBytes);
      const key = idempotencyKey(senderId, input.clientMessageId);
      const known = this.#keys.get(key);
      if (known) return { message: this.#sameOrConflict(known, input), created: false };
      const inFlight = this.#inFlight.get(key);
      if (inFlight) {
        if (!sameContent(inFlight.input, input)) throw this.#conflict();
        const { message } = await inFlight.promise;
        return { message, created: false };
      }
      const wait = this.#sendBucket(senderId).take(this.env.now());
      if (wait > 0) {
        // A retry of an older key is answered even past the limit (it does not count).
        const [old] = await this.env.store.findByClientIds(this.app, this.id, [
          { senderId, clientMessageId: input.clientMessageId },
        ]);
        if (old) return { message: this.#sameOrConflict(old, input), created: false };
        throw new ParleyError(
          "rate_limited",
          `too many messages: at most ${this.env.limits.sendRate} per second per conversation`,
          Math.max(1, Math.ceil(wait)),
        );
      }
      return this.#enqueue(key, senderId, input);
    });
  }

  #sendBucket(userId: string): TokenBucket {
    let bucket = this.#sendBuckets.get(userId);
    if (!bucket) {
      bucket = new TokenBucket(this.env.limits.sendRate, this.env.limits.sendBurst, this.env.now());
      this.#sendBuckets.set(userId, bucket);
    }
    return bucket;
  }

  #conflict(): ParleyError {
    return new ParleyError("conflict", "this clientMessageId was already used with a different body or meta");
  }

  #sameOrConflict(stored: Message, input: SendInput): Message {
    if (!sameContent(stored, input)) throw this.#conflict();
    return stored;
  }

  #enqueue(key: string, senderId: string, input: SendInput): Promise<SendResult> {
    let resolve!: (r: SendResult) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<SendResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: PendingSend = { key, senderId, input, promise, resolve, reject };
    this.#pending.push(entry);
    this.#inFlight.set(key, entry);
    this.#scheduleFlush();
    return promise;
  }

  /** Whether a batch is being written or a failed one is being recovered from. */
  get #committing(): boolean {
    return this.#batchesInFlight > 0 || this.#recovering;
  }

  /** Whether another batch may leave now. A stale room sends one at a time: it resyncs first. */
  #mayFlush(): boolean {
    if (this.#recovering) return false;
    return this.#batchesInFlight < (this.#stale ? 1 : MAX_BATCHES_IN_FLIGHT);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || !this.#mayFlush()) return;
    this.#flushScheduled = true;
    this.env.defer(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /**
   * Hands everything pending to the store as one batch. The next batch may leave before this
   * one is durable (its seqs follow this one's), so sends that arrive while a group commit is
   * still gathering can join it; acks and fan-out still wait for each batch's commit.
   */
  async #flush(): Promise<void> {
    if (!this.#mayFlush() || this.#pending.length === 0) return;
    this.#batchesInFlight++;
    const batch = this.#pending;
    this.#pending = [];
    try {
      await this.#commit(batch);
    } catch (error) {
      this.env.onError(error, `commit in ${this.app}/${this.id}`);
    } finally {
      this.#batchesInFlight--;
      if (this.#pending.length > 0) this.#scheduleFlush();
    }
  }

  async #commit(batch: PendingSend[]): Promise<void> {
    let plan: CommitPlan;
    try {
      if (this.#stale) await this.#resync();
      plan = await this.#write(batch);
    } catch (error) {
      if (error instanceof SupersededBatchError) {
        // An earlier batch failed and the store wrote none of this one: it goes out again,
        // re-planned, once the room has recovered.
        this.#superseded.push(...batch);
        return;
      }
      // The transaction may or may not have landed (a remote store can fail after commit):
      // resync from the store, and tell senders to retry.
      this.#stale = true;
      this.env.onError(error, `store write in ${this.app}/${this.id}`);
      const refusal = new ParleyError(
        "store_unavailable",
        "the message store is unavailable; nothing was acknowledged; retry with the same clientMessageId",
        1,
      );
      for (const entry of batch) {
        if (this.#inFlight.get(entry.key) === entry) {
          this.#inFlight.delete(entry.key);
          entry.reject(refusal);
        }
      }
      await this.#recover();
      return;
    }
    for (const { entry, message } of plan.stored) {
      this.#inFlight.delete(entry.key);
      // A replayed key does not count against the rate limit, but send() could not know it
      // was one (memory no longer held the key) and took a token for it.
      this.#sendBuckets.get(entry.senderId)?.refund();
      if (sameContent(message, entry.input)) entry.resolve({ message, created: false });
      else entry.reject(this.#conflict());
    }
    for (const { entry, message } of plan.fresh) {
      this.#inFlight.delete(entry.key);
      this.#applyCommitted(message);
      entry.resolve({ message, created: true });
    }
    if (plan.fresh.length > 0) this.#afterCommit();
    if (this.#recovering) await this.#recover();
  }

  /**
   * Plans a batch and writes it. Optimistic: no read before the write. The store's unique
   * index catches a retried key that memory no longer holds; then the keys are looked up and
   * the rest is planned and written once more. Any failure first waits for the room's later
   * batches to come back superseded, so the retry's seqs follow the last committed one.
   */
  async #write(batch: PendingSend[]): Promise<CommitPlan> {
    let storedKeys = new Map<string, Message>();
    for (let attempt = 0; ; attempt++) {
      const plan = this.#plan(batch, storedKeys);
      const fresh = plan.fresh.map((f) => f.message);
      if (fresh.length === 0) return plan;
      this.#plannedSeq = (fresh.at(-1) as Message).seq;
      try {
        await this.env.store.appendMessages(this.app, this.id, fresh);
        return plan;
      } catch (error) {
        if (error instanceof SupersededBatchError) throw error;
        this.#recovering = true;
        await this.#untilOnlyBatchInFlight();
        this.#plannedSeq = this.#conversation.lastSeq;
        if (!(error instanceof DuplicateMessageError) || attempt > 0) throw error;
        storedKeys = await this.#lookupKeys(batch);
        this.env.store.resumeAppends(this.app, this.id);
      }
    }
  }

  /** After a failure: the room's later batches settle (the store supersedes them) before re-planning. */
  async #untilOnlyBatchInFlight(): Promise<void> {
    for (let i = 0; i < 1000 && this.#batchesInFlight > 1; i++) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /**
   * Ends a recovery: memory catches up with the store, superseded sends go out first, appends
   * resume. If the store cannot be read yet, the room stays stale and the next batch resyncs
   * first (and is refused with 503 if it still cannot).
   */
  async #recover(): Promise<void> {
    if (this.#stale) {
      try {
        await this.#resync();
      } catch (error) {
        this.env.onError(error, `resync in ${this.app}/${this.id}`);
      }
    }
    this.#plannedSeq = this.#conversation.lastSeq;
    this.env.store.resumeAppends(this.app, this.id);
    this.#recovering = false;
    this.#pending = [...this.#superseded, ...this.#pending];
    this.#superseded = [];
    if (this.#pending.length > 0) this.#scheduleFlush();
  }

  /** Splits a batch into keys already stored and new messages with their seqs. */
  #plan(batch: PendingSend[], storedKeys: Map<string, Message>): CommitPlan {
    const plan: CommitPlan = { fresh: [], stored: [] };
    const createdAt = new Date(this.env.now()).toISOString();
    let seq = Math.max(this.#conversation.lastSeq, this.#plannedSeq);
    for (const entry of batch) {
      // Memory too: a resync (or an earlier batch) may have learned the key since send().
      const stored = storedKeys.get(entry.key) ?? this.#keys.get(entry.key);
      if (stored) {
        plan.stored.push({ entry, message: stored });
        continue;
      }
      seq++;
      const message: Message = {
        id: this.env.newMessageId(),
        conversationId: this.id,
        seq,
        senderId: entry.senderId,
        clientMessageId: entry.input.clientMessageId,
        body: entry.input.body,
        createdAt,
      };
      if (entry.input.meta !== undefined) message.meta = entry.input.meta;
      plan.fresh.push({ entry, message });
    }
    return plan;
  }

  async #lookupKeys(batch: PendingSend[]): Promise<Map<string, Message>> {
    const rows = await this.env.store.findByClientIds(
      this.app,
      this.id,
      batch.map((e) => ({ senderId: e.senderId, clientMessageId: e.input.clientMessageId })),
    );
    return new Map(rows.map((m) => [idempotencyKey(m.senderId, m.clientMessageId), m]));
  }

  /** After a failed commit: pick up anything the store has that memory does not. */
  async #resync(): Promise<void> {
    const landed: Message[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      const after = this.#conversation.lastSeq + landed.length;
      const page = await this.env.store.readRange(this.app, this.id, {
        after,
        limit: this.env.limits.pageSize,
      });
      landed.push(...page);
      if (page.length < this.env.limits.pageSize) break;
    }
    this.#stale = false;
    for (const message of landed) this.#applyCommitted(message);
    if (landed.length > 0) this.#afterCommit();
  }

  /** Memory catches up with one committed message, then it goes out to live connections. */
  #applyCommitted(message: Message): void {
    const entry = toBuffered(message);
    this.#conversation.lastSeq = message.seq;
    this.#conversation.lastActivityAt = message.createdAt;
    for (const old of this.#buffer.push(entry)) {
      this.#keys.delete(idempotencyKey(old.message.senderId, old.message.clientMessageId));
    }
    this.#keys.set(idempotencyKey(message.senderId, message.clientMessageId), message);
    this.#typing.delete(message.senderId);
    const sender = this.#members.get(message.senderId);
    if (sender) sender.ownAboveRead++;
    this.#broadcast(entry.frame);
  }

  /** Wakes long-polls and tells members' inboxes, once per committed batch. */
  #afterCommit(): void {
    for (const wake of [...this.#waiters.keys()]) wake();
    for (const userId of this.#memberIds) this.#notifyInbox(userId);
  }

  // ---- connections: replay, then synced, then live ----------------------------------------

  /**
   * Adds a verified connection: replays everything after `after`, then `synced`, then live.
   * Refuses non-members with 4003. Returns null when refused.
   */
  connect(conn: Connection, identity: ConnectionIdentity, after: number | undefined): Peer | null {
    if (this.#closed) {
      conn.close(CloseCode.goingAway, "the relay is shutting down");
      return null;
    }
    if (!this.#members.has(identity.userId)) {
      conn.close(CloseCode.forbidden, "not a member of this conversation");
      return null;
    }
    this.lastUsedAt = this.env.now();
    if (identity.instanceId !== undefined) {
      for (const other of this.#peers) {
        if (other.identity.userId === identity.userId && other.identity.instanceId === identity.instanceId) {
          this.#disconnect(other, CloseCode.replaced, "replaced by a newer connection of this client");
        }
      }
    }
    const peer = this.#addPeer(conn, identity, false);
    void this.#replay(peer, after);
    return peer;
  }

  /**
   * Re-registers a connection that was already live before the room left memory (a Durable
   * Object waking from hibernation keeps its sockets): no replay, no `synced`, straight to live.
   * A socket that missed messages while the room slept is not possible: the room only sleeps
   * with no commit in flight, and every commit reached live sockets before that.
   */
  adopt(conn: Connection, identity: ConnectionIdentity): Peer | null {
    if (!this.#members.has(identity.userId)) {
      conn.close(CloseCode.forbidden, "not a member of this conversation");
      return null;
    }
    return this.#addPeer(conn, identity, true);
  }

  /** Registers a connection: it holds its user's presence and gets its own frame budget. */
  #addPeer(conn: Connection, identity: ConnectionIdentity, live: boolean): Peer {
    const peer: Peer = {
      conn,
      identity,
      live,
      releasePresence: this.#presence.hold(identity.userId),
      frameBucket: new TokenBucket(this.env.limits.frameRate, this.env.limits.frameBurst, this.env.now()),
    };
    this.#peers.add(peer);
    return peer;
  }

  /** The transport closed: forget the peer (presence keeps it for the grace period). */
  leave(peer: Peer): void {
    if (!this.#peers.delete(peer)) return;
    peer.releasePresence();
    this.lastUsedAt = this.env.now();
  }

  /** A text frame from a peer's socket. */
  receive(peer: Peer, text: string): Promise<void> {
    return this.#socketFrames.receive(peer, text);
  }

  /** Closes a peer with a code and forgets it. Every server-side disconnect goes through here. */
  #disconnect(peer: Peer, code: number, reason: string): void {
    this.leave(peer);
    peer.conn.close(code, reason);
  }

  /** Closes a peer that floods or cannot keep up (4008: the client resumes). */
  disconnect(peer: Peer, code: number, reason: string): void {
    this.#disconnect(peer, code, reason);
  }

  async #replay(peer: Peer, after: number | undefined): Promise<void> {
    this.#busy++;
    try {
      let cursor = after === undefined ? this.lastSeq : Math.min(after, this.lastSeq);
      const { pageSize } = this.env.limits;
      while (cursor < this.lastSeq) {
        if (peer.conn.closed) return;
        const page =
          this.#buffer.after(cursor, pageSize) ??
          (await this.env.store.readRange(this.app, this.id, { after: cursor, limit: pageSize })).map(
            toBuffered,
          );
        if (page.length === 0)
          throw new Error(`replay found nothing after seq ${cursor} (lastSeq ${this.lastSeq})`);
        for (const { message, frame } of page) {
          // A commit may land in the store before memory learns of it: never pass lastSeq,
          // or the live fan-out would send the same message again.
          if (message.seq > this.lastSeq) break;
          if (message.seq !== cursor + 1)
            throw new Error(`replay gap: expected seq ${cursor + 1}, got ${message.seq}`);
          peer.conn.send(frame);
          cursor = message.seq;
        }
        await this.#drain(peer);
      }
      if (peer.conn.closed || !this.#peers.has(peer)) return;
      peer.live = true;
      peer.conn.send(frames.synced(this.lastSeq));
      peer.conn.send(frames.presence(this.#presence.online()));
      const now = this.env.now();
      for (const [userId, t] of this.#typing) {
        if (t.expiresAt > now && userId !== peer.identity.userId)
          peer.conn.send(frames.typing(userId, t.expiresAt));
      }
    } catch (error) {
      this.env.onError(error, `replay in ${this.app}/${this.id}`);
      this.#disconnect(peer, CloseCode.internal, "replay failed; reconnect to resume");
    } finally {
      this.#busy--;
    }
  }

  /** Waits (bounded) while a replaying socket has more than half its buffer cap queued. */
  async #drain(peer: Peer): Promise<void> {
    const cap = this.env.limits.socketBufferBytes;
    for (let waited = 0; peer.conn.bufferedAmount > cap / 2 && !peer.conn.closed; waited += 10) {
      if (waited > 30_000) {
        this.#disconnect(peer, CloseCode.tooSlowOrFast, "too slow: the replay did not drain in 30 s");
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Sends one frame to every live peer (except `exceptUser`'s own connections). */
  #broadcast(frame: OutboundFrame, exceptUser?: string): void {
    const cap = this.env.limits.socketBufferBytes;
    for (const peer of this.#peers) {
      if (!peer.live || peer.identity.userId === exceptUser) continue;
      if (peer.conn.bufferedAmount > cap) {
        this.#disconnect(
          peer,
          CloseCode.tooSlowOrFast,
          "too slow: outbound buffer full; reconnect with after",
        );
        continue;
      }
      peer.conn.send(frame);
    }
  }

  // ---- history and long-poll --------------------------------------------------------------

  /** A page of the log; with `after` and `waitMs`, a long-poll. */
  history(userId: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.#hold(async () => {
      this.#member(userId);
      const limit = query.limit;
      if (query.after !== undefined) {
        if (query.waitMs && query.waitMs > 0 && query.after >= this.lastSeq && !this.#closed) {
          await this.#waitForMessage(userId, query.waitMs);
          this.#member(userId); // removed while waiting: 403, and nothing sent after removal
        }
        const page = (
          this.#buffer.after(query.after, limit + 1)?.map((b) => b.message) ??
          (await this.env.store.readRange(this.app, this.id, { after: query.after, limit: limit + 1 }))
        ).filter((m) => m.seq <= this.lastSeq);
        return { messages: page.slice(0, limit), lastSeq: this.lastSeq, hasMore: page.length > limit };
      }
      const page =
        this.#buffer.before(query.before, limit + 1)?.map((b) => b.message) ??
        (await this.env.store.readRange(this.app, this.id, { before: query.before, limit: limit + 1 }));
      const visible = page.filter((m) => m.seq <= this.lastSeq);
      return { messages: visible.slice(-limit), lastSeq: this.lastSeq, hasMore: visible.length > limit };
    });
  }

  /** Holds a long-poll until the next commit or the timeout; counts as presence meanwhile. */
  async #waitForMessage(userId: string, waitMs: number): Promise<void> {
    const release = this.#presence.hold(userId);
    try {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, waitMs);
        this.#waiters.set(wake, userId);
      });
    } finally {
      release();
    }
  }

  // ---- typing, read receipts, presence ----------------------------------------------------

  /** Broadcasts that `userId` is typing, at most once per throttle window. */
  typing(userId: string): void {
    this.#assertOpen();
    this.#member(userId);
    const now = this.env.now();
    const current = this.#typing.get(userId);
    if (current && now - current.broadcastAt < this.env.limits.typingThrottleMs) return;
    const expiresAt = now + this.env.limits.typingTtlMs;
    this.#typing.set(userId, { expiresAt, broadcastAt: now });
    this.#broadcast(frames.typing(userId, expiresAt), userId);
    // Expired entries are dropped lazily here, so the map stays as small as the typers.
    for (const [other, t] of this.#typing) if (t.expiresAt <= now) this.#typing.delete(other);
  }

  /** Moves `userId`'s read position forward (clamped to lastSeq); never backward. */
  markRead(userId: string, seq: number): Promise<void> {
    return this.#hold(async () => {
      this.#assertOpen();
      const member = this.#member(userId);
      const target = Math.min(seq, this.lastSeq);
      if (target <= member.lastReadSeq) return;
      member.lastReadSeq = target;
      try {
        await this.env.store.setLastRead(this.app, this.id, userId, target);
      } catch (error) {
        this.env.onError(error, `read position in ${this.app}/${this.id}`);
        throw new ParleyError("store_unavailable", "the store is unavailable; retry", 1);
      }
      if (member.lastReadSeq !== target) return; // a later read moved it further meanwhile
      const unread = await this.#unreadAbove(userId, target);
      member.ownAboveRead = this.lastSeq - target - unread;
      this.#broadcast(frames.read(userId, target));
      this.#notifyInbox(userId);
    });
  }

  /** Others' messages above `seq`: counted in memory where the buffer reaches, else in the store. */
  async #unreadAbove(userId: string, seq: number): Promise<number> {
    const first = this.#buffer.firstSeq ?? this.lastSeq + 1;
    let unread = 0;
    if (seq + 1 < first)
      unread = await this.env.store.countUnreadFor(this.app, this.id, userId, seq, first - 1);
    for (const { message } of this.#buffer.after(Math.max(seq, first - 1), this.env.limits.bufferSize) ??
      []) {
      if (message.senderId !== userId) unread++;
    }
    return unread;
  }

  presence(userId: string): string[] {
    this.#member(userId);
    return this.#presence.online();
  }

  // ---- members and description ------------------------------------------------------------

  describe(): ConversationView {
    return {
      id: this.id,
      title: this.#conversation.title,
      lastSeq: this.lastSeq,
      members: [...this.#members].map(([userId, m]) => ({ userId, lastReadSeq: m.lastReadSeq })),
    };
  }

  /** This conversation as one row of `userId`'s thread list. */
  threadItem(userId: string): ThreadItem {
    const member = this.#member(userId);
    const last = this.#buffer.before(undefined, 1)?.[0]?.message ?? null;
    return {
      id: this.id,
      title: this.#conversation.title,
      members: this.#memberIds,
      lastSeq: this.lastSeq,
      lastReadSeq: member.lastReadSeq,
      unread: this.lastSeq - member.lastReadSeq - member.ownAboveRead,
      lastMessage: last,
    };
  }

  #notifyInbox(userId: string): void {
    if (!this.#members.has(userId) || !this.env.inbox.isListening(this.app, userId)) return;
    this.env.inbox.deliver(this.app, userId, this.threadItem(userId));
  }

  addMember(userId: string, joinedAt: string): Promise<void> {
    return this.#hold(async () => {
      this.#assertOpen();
      if (this.#members.has(userId)) return;
      await this.env.store.addMember(this.app, this.id, userId, joinedAt);
      const unread = await this.#unreadAbove(userId, 0);
      this.#members.set(userId, { lastReadSeq: 0, ownAboveRead: this.lastSeq - unread });
      this.#memberIds = [...this.#members.keys()];
      // Every member's thread item lists the members: all of their inboxes hear of it.
      for (const memberId of this.#memberIds) this.#notifyInbox(memberId);
    });
  }

  /** Removes a member; their open connections close with 4003 at once. */
  removeMember(userId: string): Promise<void> {
    return this.#hold(async () => {
      this.#assertOpen();
      await this.env.store.removeMember(this.app, this.id, userId);
      if (!this.#members.delete(userId)) return;
      this.#memberIds = [...this.#members.keys()];
      for (const peer of [...this.#peers]) {
        if (peer.identity.userId === userId)
          this.#disconnect(peer, CloseCode.forbidden, "removed from the conversation");
      }
      this.#typing.delete(userId);
      this.#sendBuckets.delete(userId);
      this.#presence.forget(userId);
      // Long-polls of the removed user wake now and answer 403.
      for (const [wake, waiter] of [...this.#waiters]) if (waiter === userId) wake();
      // The others' thread items list the members.
      for (const memberId of this.#memberIds) this.#notifyInbox(memberId);
    });
  }

  /** Finishes pending commits, then closes every connection (1001 on shutdown). */
  async close(code: number = CloseCode.goingAway, reason = "the relay is shutting down"): Promise<void> {
    this.#closed = true;
    for (let i = 0; i < 500 && (this.#committing || this.#pending.length > 0 || this.#flushScheduled); i++) {
      if (!this.#committing && this.#pending.length > 0) await this.#flush();
      else await new Promise((r) => setTimeout(r, 10));
    }
    for (const peer of [...this.#peers]) this.#disconnect(peer, code, reason);
    for (const wake of [...this.#waiters.keys()]) wake();
    this.#presence.dispose();
  }
}
