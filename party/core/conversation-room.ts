/**
 * The room actor of one conversation: the single writer of its log. A small façade over its
 * parts: the committed log in memory (`room/room-log.ts`), the members and their read
 * positions (`room/members.ts`), the commit pipeline that makes sends durable
 * (`room/commit-pipeline.ts`) and the fan-out that replays and pushes to connections
 * (`room/fanout.ts`). It owns what joins them: sending rules, typing, reads, presence,
 * long-polls and membership changes. Runtime-free: web standards and the `Store` interface only.
 */
import type { ConversationView, HistoryPage, LogPage, RepliesPage } from "../../protocol/index.ts";
import type { Connection, ConnectionIdentity, SocketData } from "./connection.ts";
import { CloseCode, isParleyError, ParleyError, storeRefusal } from "./errors.ts";
import type { Limits } from "./limits.ts";
import type { OnError } from "./log.ts";
import type { RelayMetrics } from "./metrics.ts";
import { type Answers, frames, type OutboundFrame, threadFramesOf } from "./outbound-frame.ts";
import { PresenceTracker } from "./presence.ts";
import { CommitPipeline, type PipelineEnvironment, type SendResult } from "./room/commit-pipeline.ts";
import { Fanout } from "./room/fanout.ts";
import { InboxNotifier, type Later } from "./room/inbox-notifier.ts";
import { Members } from "./room/members.ts";
import { type Actor, applyChange, type ChangeRequest } from "./room/message-changes.ts";
import type { Peer } from "./room/peer.ts";
import { PresenceFeed } from "./room/presence-feed.ts";
import type { Attendance } from "./room/recipients.ts";
import { RoomLog } from "./room/room-log.ts";
import { rejection, Screening, type SendScreen } from "./room/screening.ts";
import { type FrameTarget, receiveRoomFrame } from "./room-socket-frames.ts";
import type { RangeQuery, Store } from "./store.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { EditFields, LogEntry, Message, SendInput, ThreadItem } from "./types.ts";
import { checkBodySize, checkMetaSize, unstorableText } from "./validation.ts";

export type { Actor, HistoryPage, LogPage, Peer, RepliesPage, SendResult };

/** Who reads the log: a member, or the app's back end (server key). */
export type Viewer = { userId: string } | { server: true };

/** Where thread-list changes go: the inbox actors of the members. */
export interface InboxRouter {
  /** Whether the user has a live inbox now (thread frames are built only for listeners). */
  isListening(app: string, userId: string): boolean;
  /** One `thread` frame for the user's inbox sockets. */
  deliver(app: string, userId: string, frame: OutboundFrame): void;
}

/** The app's webhooks, as far as a room is concerned. */
export interface RoomWebhooks {
  /** Whether the app has endpoints now: its messages then record their recipients. */
  active(app: string): boolean;
  /** Entries or conversation events were just committed: delivery may have work. */
  changed(app: string, conversationId: string): void;
}

/** What a room needs from its host. */
export interface RoomEnvironment extends PipelineEnvironment {
  store: Store;
  limits: Limits;
  inbox: InboxRouter;
  /** Webhook delivery's seam (none: the host has no webhooks). */
  webhooks?: RoomWebhooks | undefined;
  /** The apps' pre-send hooks (none: no app has one). */
  screen?: SendScreen | undefined;
  /** Background failures (fan-out, persistence, replay) end here; they never crash the host. */
  onError: OnError;
  /** Where fan-out and refusals are counted (none: nothing is counted; see metrics.ts). */
  metrics?: RelayMetrics | undefined;
  /**
   * How a room's coalescing windows (thread-list updates) are timed; none: a timer per room.
   * A host of many rooms shares one (`SharedWindows`).
   */
  later?: Later | undefined;
}

/**
 * The first (reading forward) or last (reading back) items that fit in `maxBytes` of JSON,
 * at least one.
 */
function withinBytes<T>(items: readonly T[], maxBytes: number, keep: "first" | "last"): T[] {
  const ordered = keep === "first" ? items : [...items].reverse();
  const kept: T[] = [];
  let bytes = 0;
  for (const item of ordered) {
    const size = JSON.stringify(item).length;
    if (kept.length > 0 && bytes + size > maxBytes) break;
    bytes += size;
    kept.push(item);
  }
  return keep === "first" ? kept : kept.reverse();
}

export interface HistoryQuery extends Omit<RangeQuery, "limit"> {
  limit: number;
  /** Long-poll: with `after`, hold up to this long for a message. */
  waitMs?: number | undefined;
  /**
   * The client went away: a held long-poll ends at once (its presence hold is given back, so
   * the grace period starts). Only where the room runs in the caller's process; an RPC to an
   * actor does not carry it (room-api.ts), and the wait ends at its time there.
   */
  signal?: AbortSignal | undefined;
}

const noParent = (seq: number) =>
  new ParleyError("bad_request", `replyTo: no message ${seq} in this conversation`);

export class ConversationRoom implements FrameTarget {
  readonly app: string;
  readonly id: string;
  #log: RoomLog;
  #members: Members;
  #pipeline: CommitPipeline;
  #fanout: Fanout;
  #presence: PresenceTracker;
  /** What the connections are told of it: the full list once, then coalesced deltas. */
  #presenceFeed: PresenceFeed;
  #inboxes: InboxNotifier;
  /** Waiting long-polls: each one's wake-up, by the user it serves. */
  #waiters = new Map<() => void, string>();
  /** When each long-poll client last had an answer: between two polls it is still there. */
  #polledAt = new Map<string, number>();
  /** Sends waiting for the app's pre-send hook. */
  #screening = new Screening();
  #typing = new Map<string, { expiresAt: number; broadcastAt: number }>();
  #sendBuckets = new Map<string, TokenBucket>();
  /** Public operations running now: the room is not unloaded under them. */
  #busy = 0;
  #closed = false;
  lastUsedAt: number;

  private constructor(
    app: string,
    log: RoomLog,
    members: Members,
    private readonly env: RoomEnvironment,
  ) {
    this.app = app;
    this.id = log.conversation.id;
    this.#log = log;
    this.#members = members;
    this.#presenceFeed = new PresenceFeed(env.limits.presenceWindowMs, (frame, exceptUser) =>
      this.#fanout.broadcast(frame, exceptUser),
    );
    this.#presence = new PresenceTracker(env.limits.presenceGraceMs, (userId, online) =>
      this.#presenceFeed.changed(userId, online),
    );
    this.#pipeline = new CommitPipeline(app, this.id, log, env, {
      committed: (entries, states) => this.#committed(entries, states),
      replayed: (senderId) => this.#sendBuckets.get(senderId)?.refund(),
      attendance: () => this.#attendance(),
    });
    this.#fanout = new Fanout(
      { ...env, app, conversationId: this.id },
      log,
      (peer) => this.#greeting(peer),
      (peer) => this.#presence.close(peer.identity.userId, peer.presenceEpoch),
    );
    this.#inboxes = new InboxNotifier(
      env.limits.inboxCoalesceMs,
      (users) => this.#sendThreads(users),
      env.later,
    );
    this.lastUsedAt = env.now();
  }

  /** Loads a conversation from the store, or returns null when it does not exist. */
  static async load(app: string, id: string, env: RoomEnvironment): Promise<ConversationRoom | null> {
    const loaded = await env.store.loadConversation(app, id);
    if (!loaded) return null;
    // A fresh room plans from the store: nothing of an earlier instance's failed batch is pending.
    env.store.resumeAppends(app, id);
    const recent = await env.store.readLogTail(app, id, env.limits.bufferSize);
    const log = new RoomLog(loaded.conversation, env.limits.bufferSize, recent);
    const members = new Members(loaded.members, log.messageCount, loaded.unread);
    return new ConversationRoom(app, log, members, env);
  }

  get lastSeq(): number {
    return this.#log.lastSeq;
  }

  /** True when nothing holds the room: it may be dropped from memory. */
  get idle(): boolean {
    return (
      this.#busy === 0 &&
      this.#fanout.size === 0 &&
      !this.#fanout.replaying &&
      !this.#pipeline.busy &&
      this.#screening.size === 0 &&
      this.#waiters.size === 0 &&
      !this.#inboxes.pending &&
      !this.#presenceFeed.pending &&
      !this.#presence.active
    );
  }

  isMember(userId: string): boolean {
    return this.#members.has(userId);
  }

  /**
   * Whether a connection of this client instance (`_pk`) is open here: a newer one replaces it
   * (4009), so it comes in even when its user is at the connection cap.
   */
  holdsInstance(userId: string, instanceId: string): boolean {
    for (const peer of this.#fanout.peers(userId)) if (peer.identity.instanceId === instanceId) return true;
    return false;
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

  // ---- sending: idempotency, rate limit, then the commit pipeline -------------------------

  /** Stores a message; resolves only after it is durable. */
  send(senderId: string, input: SendInput): Promise<SendResult> {
    return this.#hold(async () => {
      this.#assertOpen();
      this.#members.require(senderId);
      checkBodySize(input.body, this.env.limits.maxMessageBytes);
      checkMetaSize(input.meta, this.env.limits.maxMetaBytes);
      // Decided without awaiting: a retry in the same turn must find the first attempt in flight.
      const known = this.#pipeline.known(senderId, input) ?? this.#screening.known(senderId, input);
      if (known) return known;
      if (input.replyTo !== undefined && this.env.screen) {
        // The pre-send hook hears only sends that can be stored: a reply's parent is checked
        // first (again when it is planned). A retry that came in meanwhile finds this one.
        if (!(await this.#messageState(input.replyTo))) throw noParent(input.replyTo);
        const meanwhile = this.#pipeline.known(senderId, input) ?? this.#screening.known(senderId, input);
        if (meanwhile) return meanwhile;
      }
      const wait = this.#sendBucket(senderId).take(this.env.now());
      if (wait > 0) {
        // A retry of an older key is answered even past the limit (it does not count).
        const [old] = await this.#read("looking up a retried key failed", () =>
          this.env.store.findByClientIds(this.app, this.id, [
            { senderId, clientMessageId: input.clientMessageId },
          ]),
        );
        if (old) return CommitPipeline.sameOrConflict(old, input);
        throw this.#rateLimited(wait);
      }
      const screening = this.env.screen?.screen(this.app, this.id, senderId, input);
      if (!screening) return this.#submit(senderId, input);
      // Sends are ordered as the hook accepts them; other sends, here and elsewhere, go on.
      return this.#screening.track(
        senderId,
        input,
        screening.then((verdict) => {
          if (!verdict.accept) throw rejection(verdict.message);
          this.#assertOpen();
          return this.#submit(senderId, input, verdict.rewrite);
        }),
      );
    });
  }

  /**
   * Hands a send to the pipeline; a reply's parent must exist and stays in memory until planned.
   * Not async for a plain send: its promise is the pipeline's, without one more wrapped around it.
   */
  #submit(senderId: string, input: SendInput, rewrite?: SendInput): Promise<SendResult> {
    if (input.replyTo === undefined) return this.#pipeline.submit(senderId, input, undefined, rewrite);
    return this.#submitReply(senderId, input, input.replyTo, rewrite);
  }

  async #submitReply(senderId: string, input: SendInput, parentSeq: number, rewrite?: SendInput) {
    // Its replyCount goes up in the same transaction as the reply.
    const parent = await this.#messageState(parentSeq);
    if (!parent) throw noParent(parentSeq);
    return this.#pipeline.submit(senderId, input, this.#log.pin(parent), rewrite);
  }

  /**
   * Who is connected now (see room/recipients.ts for the rule), when the app has webhooks: the
   * pipeline stores it with each new message.
   */
  #attendance(): Attendance | undefined {
    if (!this.env.webhooks?.active(this.app)) return undefined;
    const online = new Set<string>();
    for (const peer of this.#fanout.peers()) online.add(peer.identity.userId);
    for (const userId of this.#waiters.values()) online.add(userId);
    const since = this.env.now() - this.env.limits.presenceGraceMs;
    for (const [userId, at] of this.#polledAt) {
      if (at >= since) online.add(userId);
      else this.#polledAt.delete(userId);
    }
    const members = this.#members.ids;
    for (const userId of members)
      if (!online.has(userId) && this.env.inbox.isListening(this.app, userId)) online.add(userId);
    return { members, online };
  }

  #rateLimited(wait: number): ParleyError {
    this.env.metrics?.rateLimited("send_rate");
    return new ParleyError(
      "rate_limited",
      `too many messages: at most ${this.env.limits.sendRate} per second per conversation`,
      Math.max(1, Math.ceil(wait)),
    );
  }

  /**
   * A read of the store on a caller's behalf. A store that cannot answer is the contract's 503
   * (`store_unavailable`, safe to retry) on every runtime, not an internal error; the cause is
   * logged with `context`.
   */
  async #read<T>(context: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (first) {
      if (isParleyError(first)) throw first;
      // Once more: a read changes nothing, and the first one after a remote store's connection
      // was cut can fail on the old connection while the next opens a new one (a 503 for a
      // store that is back; seen in the remote-commit faults test).
      try {
        return await work();
      } catch (error) {
        return storeRefusal(this.env.onError, context, { app: this.app, conversationId: this.id })(error);
      }
    }
  }

  /** A message's latest state: from memory, else from the store; undefined when there is none. */
  async #messageState(seq: number): Promise<Message | undefined> {
    const kept = this.#log.stateOf(seq);
    if (kept) return kept;
    if (seq > this.lastSeq) return undefined;
    const [stored] = await this.#read("reading a message failed", () =>
      this.env.store.readMessages(this.app, this.id, [seq]),
    );
    return this.#log.stateOf(seq) ?? stored;
  }

  // ---- changes: edit, delete, react, unreact ----------------------------------------------

  /** Edits a message (its sender; the server key: any). Resolves with its state once durable. */
  edit(actor: Actor, seq: number, fields: EditFields): Promise<SendResult> {
    if (fields.body === undefined && fields.meta === undefined)
      return Promise.reject(new ParleyError("bad_request", "an edit needs a body or a meta"));
    if (fields.body !== undefined) {
      const problem = unstorableText(fields.body);
      if (problem) return Promise.reject(new ParleyError("bad_request", `body ${problem}`));
    }
    return this.#change({ kind: "edit", target: seq, actor, body: fields.body, meta: fields.meta }, () => {
      if (fields.body !== undefined) checkBodySize(fields.body, this.env.limits.maxMessageBytes);
      if (fields.meta) checkMetaSize(fields.meta, this.env.limits.maxMetaBytes);
    });
  }

  /** Deletes a message (its sender, or the server key): it becomes a tombstone. */
  deleteMessage(actor: Actor, seq: number): Promise<SendResult> {
    return this.#change({ kind: "delete", target: seq, actor });
  }

  /** Adds `userId`'s reaction `key` to a message (nothing when it is there already). */
  react(userId: string, seq: number, key: string): Promise<SendResult> {
    return this.#change({ kind: "react", target: seq, actor: { userId }, key });
  }

  /** Removes `userId`'s reaction `key` (nothing when it is not there). */
  unreact(userId: string, seq: number, key: string): Promise<SendResult> {
    return this.#change({ kind: "unreact", target: seq, actor: { userId }, key });
  }

  /**
   * A change to a message: its actor is checked (a member, within the send rate), its target
   * loaded and kept in memory, then the pipeline applies it to the state the message will have
   * when its turn comes (see message-changes.ts for the rules).
   */
  #change(request: ChangeRequest, check?: () => void): Promise<SendResult> {
    return this.#hold(async () => {
      this.#assertOpen();
      const userId = request.actor.server ? undefined : request.actor.userId;
      if (userId !== undefined) this.#members.require(userId);
      check?.();
      if (userId !== undefined) {
        const wait = this.#sendBucket(userId).take(this.env.now());
        if (wait > 0) throw this.#rateLimited(wait);
      }
      const screened = userId === undefined ? request : await this.#screenEdit(request);
      const target = await this.#messageState(request.target);
      if (!target) throw new ParleyError("not_found", `no message ${request.target} in this conversation`);
      return this.#pipeline.submitChange(screened, this.#log.pin(target));
    });
  }

  /**
   * A member's edit, through the app's pre-send hook (when it has one): the hook hears only an
   * edit that can be stored and changes something, so the rules run first on the message as it
   * is now (again when the edit is planned, on its state then). A rejection refuses the edit
   * (422); a rewrite becomes the edit's content.
   */
  async #screenEdit(request: ChangeRequest): Promise<ChangeRequest> {
    if (request.kind !== "edit" || !this.env.screen) return request;
    const current = await this.#messageState(request.target);
    if (!current) throw new ParleyError("not_found", `no message ${request.target} in this conversation`);
    const outcome = applyChange(current, request, new Date(this.env.now()).toISOString(), this.env.limits);
    if (outcome.kind === "noop") return request;
    const { body, meta } = outcome.message;
    const screening = this.env.screen.screenEdit(this.app, this.id, current, { body, meta });
    if (!screening) return request;
    const verdict = await screening;
    if (!verdict.accept) throw rejection(verdict.message);
    this.#assertOpen();
    if (!verdict.rewrite) return request;
    return { ...request, body: verdict.rewrite.body, meta: verdict.rewrite.meta ?? null };
  }

  #sendBucket(userId: string): TokenBucket {
    let bucket = this.#sendBuckets.get(userId);
    if (!bucket) {
      bucket = new TokenBucket(this.env.limits.sendRate, this.env.limits.sendBurst, this.env.now());
      this.#sendBuckets.set(userId, bucket);
    }
    return bucket;
  }

  /**
   * Committed entries (in seq order) enter the log and go out, each with its message's state
   * just after it; then the other changed states; then long-polls and inboxes hear.
   */
  #committed(entries: readonly LogEntry[], states: readonly Message[]): void {
    let threadsChanged = false;
    for (const entry of entries) {
      const frame = this.#log.apply(entry);
      if (entry.type === "message") {
        this.#typing.delete(entry.message.senderId);
        this.#members.sent(entry.message.senderId);
        threadsChanged = true;
      } else {
        // A deleted message is no longer unread for anyone: their thread items change.
        const unreadFell = entry.change.kind === "delete" && this.#members.deleted(entry.message);
        if (unreadFell || entry.message.seq === this.#log.latest()?.seq) threadsChanged = true;
      }
      this.#fanout.broadcast(frame);
    }
    for (const state of states) this.#log.setState(state);
    if (this.#waiters.size > 0) for (const wake of [...this.#waiters.keys()]) wake();
    if (entries.length > 0) this.env.webhooks?.changed(this.app, this.id);
    // The thread list shows the last message and the unread count: a change to an older
    // message moves neither, unless it deletes one that was unread.
    if (threadsChanged) this.#inboxes.mark(this.#members.ids);
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
      for (const other of this.#fanout.peers(identity.userId)) {
        if (other.identity.instanceId === identity.instanceId)
          this.#fanout.disconnect(other, CloseCode.replaced, "replaced by a newer connection of this client");
      }
    }
    const peer = this.#addPeer(conn, identity, false);
    void this.#fanout.replay(peer, after);
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
    // Its client holds the online set of the room that slept: it gets the full list again.
    this.#presenceFeed.resync();
    return this.#addPeer(conn, identity, true);
  }

  /** Registers a connection: it holds its user's presence and gets its own frame budget. */
  #addPeer(conn: Connection, identity: ConnectionIdentity, live: boolean): Peer {
    return this.#fanout.add(conn, identity, live, this.#presence.open(identity.userId));
  }

  /** What a connection hears right after `synced`: who is online and who is typing. */
  #greeting(peer: Peer): OutboundFrame[] {
    const greeting = [this.#presenceFeed.greeting(peer.identity.userId)];
    const now = this.env.now();
    for (const [userId, t] of this.#typing) {
      if (t.expiresAt > now && userId !== peer.identity.userId)
        greeting.push(frames.typing(userId, t.expiresAt));
    }
    return greeting;
  }

  /** The transport closed: forget the peer (presence keeps it for the grace period). */
  leave(peer: Peer): void {
    if (this.#fanout.remove(peer)) this.lastUsedAt = this.env.now();
  }

  /** A frame from a peer's socket. */
  receive(peer: Peer, data: SocketData): Promise<void> {
    return receiveRoomFrame(this, peer, data, this.env.now(), (error, context, fields) =>
      this.env.onError(error, context, { app: this.app, conversationId: this.id, ...fields }),
    );
  }

  /** Charges a frame to its peer's inbound budget; the reason when the peer is over it. */
  charge(peer: Peer, bytes: number, now: number): string | undefined {
    return this.#fanout.charge(peer, bytes, now);
  }

  /** An ack frame; it shares the JSON of the message's fan-out frame when the window has it. */
  ack(answers: Answers, message: Message): OutboundFrame {
    return frames.ack(answers, message, this.#log.messageFrame(message));
  }

  /** Answers one peer alone (an ack, an error, a pong), within its outbound cap. */
  reply(peer: Peer, frame: OutboundFrame): void {
    this.#fanout.deliver(peer, frame);
  }

  /** Closes a peer that floods or cannot keep up (4008: the client resumes). */
  disconnect(peer: Peer, code: number, reason: string): void {
    this.#fanout.disconnect(peer, code, reason);
  }

  // ---- history and long-poll --------------------------------------------------------------

  /**
   * A page of messages (latest state, changes folded in); with `after` and `waitMs`, a
   * long-poll. A page holds at most `limit` messages and about `pageBytes` of them (at least
   * one): `hasMore` says whether there are more beyond it in that direction.
   */
  history(userId: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.#hold(async () => {
      this.#members.require(userId);
      const { limit } = query;
      const maxBytes = this.env.limits.pageBytes;
      if (query.after !== undefined) {
        const after = query.after;
        // History is messages only: a change above `after` is no answer to wait for (v1's "until
        // a message arrives"). A room that does not know its newest message goes by lastSeq.
        await this.#longPoll(
          userId,
          query.waitMs,
          () => {
            const latest = this.#log.latest();
            return latest ? latest.seq > after : after < this.lastSeq;
          },
          query.signal,
        );
        const page =
          this.#log.messagesAfter(query.after, limit) ??
          (await this.#read("reading history failed", () =>
            this.env.store.readRange(this.app, this.id, { after: query.after, limit, maxBytes }),
          ));
        const messages = withinBytes(
          page.filter((m) => m.seq <= this.lastSeq),
          maxBytes,
          "first",
        );
        const last = messages.at(-1)?.seq ?? query.after;
        return { messages, lastSeq: this.lastSeq, hasMore: last < (this.#log.latest()?.seq ?? 0) };
      }
      const page =
        this.#log.messagesBefore(query.before, limit) ??
        (await this.#read("reading history failed", () =>
          this.env.store.readRange(this.app, this.id, { before: query.before, limit, maxBytes }),
        ));
      const messages = withinBytes(
        page.filter((m) => m.seq <= this.lastSeq),
        maxBytes,
        "last",
      );
      // The log's first entry is always a message (seq 1): anything above it has older ones below.
      return { messages, lastSeq: this.lastSeq, hasMore: (messages[0]?.seq ?? 1) > 1 };
    });
  }

  /**
   * The log's entries above `after` (messages and changes, each message in its latest state):
   * what gap fill, long-poll clients and back ends read. A member's or the server key's.
   */
  logPage(
    viewer: Viewer,
    query: { after: number; limit: number; waitMs?: number | undefined; signal?: AbortSignal | undefined },
  ): Promise<LogPage> {
    return this.#hold(async () => {
      if (!("server" in viewer)) {
        this.#members.require(viewer.userId);
        await this.#longPoll(viewer.userId, query.waitMs, () => query.after < this.lastSeq, query.signal);
      }
      const maxBytes = this.env.limits.pageBytes;
      const page =
        this.#log.logAfter(query.after, query.limit) ??
        (await this.#read("reading the log failed", () =>
          this.env.store.readLog(this.app, this.id, { after: query.after, limit: query.limit, maxBytes }),
        ));
      const entries = withinBytes(
        page.filter((e) => (e.type === "message" ? e.message.seq : e.change.seq) <= this.lastSeq),
        maxBytes,
        "first",
      );
      const lastEntry = entries.at(-1);
      const last = lastEntry
        ? lastEntry.type === "message"
          ? lastEntry.message.seq
          : lastEntry.change.seq
        : query.after;
      return { entries, lastSeq: this.lastSeq, hasMore: last < this.lastSeq };
    });
  }

  /** The replies to one message, ascending by seq. */
  replies(userId: string, seq: number, query: { after: number; limit: number }): Promise<RepliesPage> {
    return this.#hold(async () => {
      this.#members.require(userId);
      if (!(await this.#messageState(seq)))
        throw new ParleyError("not_found", `no message ${seq} in this conversation`);
      const page = await this.#read("reading replies failed", () =>
        this.env.store.readReplies(this.app, this.id, seq, { after: query.after, limit: query.limit + 1 }),
      );
      // A reply committed in the store before memory learned of it is not shown yet.
      const visible = page.filter((m) => m.seq <= this.lastSeq).map((m) => this.#log.stateOf(m.seq) ?? m);
      const messages = withinBytes(visible.slice(0, query.limit), this.env.limits.pageBytes, "first");
      return { messages, hasMore: visible.length > messages.length };
    });
  }

  /**
   * With `waitMs`, holds a read until `hasNews` (checked now and after each commit) or the
   * timeout: a commit that brings nothing the read answers with does not end the wait.
   */
  async #longPoll(
    userId: string,
    waitMs: number | undefined,
    hasNews: () => boolean,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (!waitMs || waitMs <= 0) return;
    // A long-poll client counts as connected from one poll to the next (webhook recipients).
    this.#polledAt.set(userId, this.env.now());
    const deadline = this.env.now() + waitMs;
    while (!hasNews() && !this.#closed && !signal?.aborted) {
      const left = deadline - this.env.now();
      if (left <= 0) return;
      await this.#waitForMessage(userId, left, signal);
      this.#polledAt.set(userId, this.env.now());
      this.#members.require(userId); // removed while waiting: 403, and nothing sent after removal
    }
  }

  /**
   * Holds a long-poll until the next commit, the timeout or the client's going away; counts as
   * presence meanwhile.
   */
  async #waitForMessage(userId: string, waitMs: number, signal: AbortSignal | undefined): Promise<void> {
    const release = this.#presence.hold(userId);
    try {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          signal?.removeEventListener("abort", wake);
          resolve();
        };
        const timer = setTimeout(wake, waitMs);
        this.#waiters.set(wake, userId);
        signal?.addEventListener("abort", wake);
      });
    } finally {
      release();
    }
  }

  // ---- typing, read receipts, presence ----------------------------------------------------

  /** Broadcasts that `userId` is typing, at most once per throttle window. */
  typing(userId: string): void {
    this.#assertOpen();
    this.#members.require(userId);
    const now = this.env.now();
    const current = this.#typing.get(userId);
    if (current && now - current.broadcastAt < this.env.limits.typingThrottleMs) return;
    const expiresAt = now + this.env.limits.typingTtlMs;
    this.#typing.set(userId, { expiresAt, broadcastAt: now });
    this.#fanout.broadcast(frames.typing(userId, expiresAt), userId);
    // Expired entries are dropped lazily here, so the map stays as small as the typers.
    for (const [other, t] of this.#typing) if (t.expiresAt <= now) this.#typing.delete(other);
  }

  /** Moves `userId`'s read position forward (clamped to lastSeq); never backward. */
  markRead(userId: string, seq: number): Promise<void> {
    return this.#hold(async () => {
      this.#assertOpen();
      this.#members.require(userId);
      const target = Math.min(seq, this.lastSeq);
      const previous = this.#members.lastReadSeq(userId);
      if (!this.#members.moveRead(userId, target)) return;
      try {
        await this.env.store.setLastRead(this.app, this.id, userId, target);
      } catch (error) {
        // Nothing was stored: the position must not look moved, or the retry the 503 asks
        // for would be answered 204 without a write.
        this.#members.undoRead(userId, target, previous);
        return storeRefusal(this.env.onError, "read position failed", {
          app: this.app,
          conversationId: this.id,
        })(error);
      }
      const unread = await this.#unreadAbove(userId, target);
      // A later read moved the position further meanwhile: that one tells everyone.
      if (!this.#members.settleRead(userId, target, this.#log.messageCount, unread)) return;
      this.#fanout.broadcast(frames.read(userId, target));
      this.#inboxes.mark([userId]);
    });
  }

  /**
   * Others' messages above `seq`, not deleted: counted in memory where the window reaches, else
   * in the store.
   */
  async #unreadAbove(userId: string, seq: number): Promise<number> {
    const first = this.#log.firstSeq ?? this.lastSeq + 1;
    let unread = 0;
    if (seq + 1 < first)
      unread = await this.env.store.countUnreadFor(this.app, this.id, userId, seq, first - 1);
    for (const message of this.#log.windowMessagesAfter(Math.max(seq, first - 1)) ?? []) {
      if (message.senderId !== userId && !message.deleted) unread++;
    }
    return unread;
  }

  presence(userId: string): string[] {
    this.#members.require(userId);
    return this.#presence.online();
  }

  // ---- members and description ------------------------------------------------------------

  describe(): ConversationView {
    return {
      id: this.id,
      title: this.#log.conversation.title,
      lastSeq: this.lastSeq,
      members: this.#members.views(),
    };
  }

  /** This conversation as one row of `userId`'s thread list. */
  threadItem(userId: string): ThreadItem {
    this.#members.require(userId);
    return {
      id: this.id,
      title: this.#log.conversation.title,
      members: this.#members.ids,
      lastSeq: this.lastSeq,
      lastReadSeq: this.#members.lastReadSeq(userId),
      unread: this.#members.unread(userId, this.#log.messageCount),
      lastMessage: this.#log.latest(),
    };
  }

  /** Sends the members whose inbox listens their thread item, the shared part encoded once. */
  #sendThreads(userIds: readonly string[]): void {
    const listening = userIds.filter(
      (id) => this.#members.has(id) && this.env.inbox.isListening(this.app, id),
    );
    if (listening.length === 0) return;
    const frameFor = threadFramesOf({
      id: this.id,
      title: this.#log.conversation.title,
      members: this.#members.ids,
      lastSeq: this.lastSeq,
      lastMessage: this.#log.latest(),
    });
    for (const userId of listening) {
      const frame = frameFor(
        this.#members.lastReadSeq(userId),
        this.#members.unread(userId, this.#log.messageCount),
      );
      this.env.inbox.deliver(this.app, userId, frame);
    }
  }

  addMember(userId: string, joinedAt: string): Promise<void> {
    return this.#hold(async () => {
      this.#assertOpen();
      if (this.#members.has(userId)) return;
      await this.env.store.addMember(this.app, this.id, userId, joinedAt).catch(
        storeRefusal(this.env.onError, "adding a member failed", {
          app: this.app,
          conversationId: this.id,
          userId,
        }),
      );
      const unread = await this.#unreadAbove(userId, 0);
      this.#members.add(userId, this.#log.messageCount, unread);
      this.env.webhooks?.changed(this.app, this.id);
      // Every member's thread item lists the members: all of their inboxes hear of it.
      this.#inboxes.mark(this.#members.ids);
    });
  }

  /** Removes a member; their open connections close with 4003 at once. */
  removeMember(userId: string): Promise<void> {
    return this.#hold(async () => {
      this.#assertOpen();
      await this.env.store.removeMember(this.app, this.id, userId).catch(
        storeRefusal(this.env.onError, "removing a member failed", {
          app: this.app,
          conversationId: this.id,
          userId,
        }),
      );
      // Asked before the removal: the edge's room drops the inbox from its listeners with it.
      const inboxListens = this.env.inbox.isListening(this.app, userId);
      if (!this.#members.remove(userId)) return;
      this.env.webhooks?.changed(this.app, this.id);
      // Their inbox gets no more thread frames of this conversation: it is told to drop the row.
      if (inboxListens) this.env.inbox.deliver(this.app, userId, frames.thread_removed(this.id));
      this.#polledAt.delete(userId);
      for (const peer of this.#fanout.peers(userId))
        this.#fanout.disconnect(peer, CloseCode.forbidden, "removed from the conversation");
      this.#typing.delete(userId);
      this.#sendBuckets.delete(userId);
      this.#presence.forget(userId);
      // Long-polls of the removed user wake now and answer 403.
      for (const [wake, waiter] of [...this.#waiters]) if (waiter === userId) wake();
      // The others' thread items list the members.
      this.#inboxes.mark(this.#members.ids);
    });
  }

  /** Finishes pending commits, then closes every connection (1001 on shutdown). */
  async close(code: number = CloseCode.goingAway, reason = "the relay is shutting down"): Promise<void> {
    this.#closed = true;
    await this.#pipeline.drained();
    this.#inboxes.flushNow();
    this.#fanout.closeAll(code, reason);
    for (const wake of [...this.#waiters.keys()]) wake();
    this.#presence.dispose();
    this.#presenceFeed.dispose();
  }
}
