/**
 * The registry of live actors in one process: conversation rooms, loaded on first use and
 * dropped when idle, and per-user inboxes. Adapters for single-process runtimes (Node, Deno)
 * route every request and socket through one hub.
 */
import { ConversationRoom, type InboxRouter, type RoomEnvironment } from "./conversation-room.ts";
import type { Directory, EventStreamRequest, NewConversation } from "./directory.ts";
import { CloseCode, ParleyError } from "./errors.ts";
import { randomId } from "./ids.ts";
import { InboxRoom } from "./inbox-room.ts";
import type { Limits } from "./limits.ts";
import { createConversation } from "./new-conversation.ts";
import { SseConnection } from "./sse-connection.ts";
import type { Store, ThreadCursor } from "./store.ts";
import type { ThreadItem } from "./types.ts";

export interface HubOptions {
  store: Store;
  limits: Limits;
  onError: (error: unknown, context: string) => void;
  now?: () => number;
  defer?: (fn: () => void) => void;
}

const keyOf = (app: string, id: string) => `${app}\u0000${id}`;

export class RelayHub implements InboxRouter, Directory {
  readonly store: Store;
  readonly limits: Limits;
  readonly env: RoomEnvironment;
  #rooms = new Map<string, ConversationRoom>();
  #loading = new Map<string, Promise<ConversationRoom | null>>();
  #inboxes = new Map<string, InboxRoom>();
  #connectionsByUser = new Map<string, number>();
  #sweeper: ReturnType<typeof setInterval>;
  #closing = false;

  constructor(options: HubOptions) {
    this.store = options.store;
    this.limits = options.limits;
    this.env = {
      store: options.store,
      limits: options.limits,
      inbox: this,
      onError: options.onError,
      now: options.now ?? Date.now,
      defer: options.defer ?? ((fn) => setTimeout(fn, 0)),
      newMessageId: () => randomId("m_"),
    };
    this.#sweeper = setInterval(() => this.sweep(), Math.max(1_000, this.limits.roomIdleMs / 2));
    // Node: the sweeper alone must not keep the process alive.
    (this.#sweeper as { unref?: () => void }).unref?.();
  }

  /** The room of a conversation, loading it on first use; 404 when there is no such conversation. */
  async room(app: string, id: string): Promise<ConversationRoom> {
    if (this.#closing) throw new ParleyError("shutting_down", "the relay is shutting down; retry shortly", 1);
    const key = keyOf(app, id);
    const loaded = this.#rooms.get(key);
    if (loaded) {
      loaded.lastUsedAt = this.env.now();
      return loaded;
    }
    let loading = this.#loading.get(key);
    if (!loading) {
      loading = ConversationRoom.load(app, id, this.env).finally(() => this.#loading.delete(key));
      this.#loading.set(key, loading);
    }
    let room: ConversationRoom | null;
    try {
      room = await loading;
    } catch (error) {
      this.env.onError(error, `loading ${app}/${id}`);
      throw new ParleyError("store_unavailable", "the store is unavailable; retry", 1);
    }
    if (!room) throw new ParleyError("not_found", `no conversation "${id}"`);
    if (!this.#rooms.has(key)) this.#rooms.set(key, room);
    return this.#rooms.get(key) ?? room;
  }

  /** Creates a conversation (409 when the id is taken) and tells its members' inboxes. */
  async createConversation(app: string, input: NewConversation) {
    const { view, thread } = await createConversation(this.store, app, input, this.env.onError);
    for (const { userId } of view.members)
      if (this.isListening(app, userId)) this.deliver(app, userId, thread);
    return view;
  }

  listThreads(app: string, userId: string, page: { limit: number; cursor?: ThreadCursor | undefined }) {
    return this.store.listThreads(app, userId, page);
  }

  /** An SSE subscriber: a connection like a socket, counted against the user's connection cap. */
  async openEventStream(request: EventStreamRequest): Promise<Response> {
    const room = await this.room(request.app, request.conversationId);
    if (!room.isMember(request.userId))
      throw new ParleyError("forbidden", "you are not a member of this conversation");
    const releaseSlot = this.acquireConnection(request.app, request.userId);
    if (!releaseSlot) throw new ParleyError("rate_limited", "too many open connections for this user", 5);
    let peer: ReturnType<typeof room.connect> = null;
    const connection = new SseConnection(this.limits.sseKeepAliveMs, () => {
      releaseSlot();
      if (peer) room.leave(peer);
    });
    const identity = { app: request.app, userId: request.userId, instanceId: request.instanceId };
    peer = room.connect(connection, identity, request.after);
    request.signal.addEventListener("abort", () => connection.close(1001, "client went away"));
    return connection.response();
  }

  /** The inbox actor of a user, created on demand. */
  inbox(app: string, userId: string): InboxRoom {
    const key = keyOf(app, userId);
    let inbox = this.#inboxes.get(key);
    if (!inbox) {
      inbox = new InboxRoom(app, userId, this.limits, this.env.now);
      this.#inboxes.set(key, inbox);
    }
    return inbox;
  }

  isListening(app: string, userId: string): boolean {
    return this.#inboxes.get(keyOf(app, userId))?.listening ?? false;
  }

  deliver(app: string, userId: string, item: ThreadItem): void {
    this.#inboxes.get(keyOf(app, userId))?.deliver(item);
  }

  /**
   * Counts one more open connection (socket or SSE stream) of a user, across all their
   * conversations and their inbox. Returns its release, or null when the user is at the cap.
   */
  acquireConnection(app: string, userId: string): (() => void) | null {
    const key = keyOf(app, userId);
    const open = this.#connectionsByUser.get(key) ?? 0;
    if (open >= this.limits.maxConnectionsPerUser) return null;
    this.#connectionsByUser.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#connectionsByUser.get(key) ?? 1) - 1;
      if (left > 0) this.#connectionsByUser.set(key, left);
      else this.#connectionsByUser.delete(key);
    };
  }

  /** Drops rooms idle for `roomIdleMs` and inboxes nobody listens to. */
  sweep(): void {
    const now = this.env.now();
    for (const [key, room] of this.#rooms) {
      if (room.idle && now - room.lastUsedAt >= this.limits.roomIdleMs) this.#rooms.delete(key);
    }
    for (const [key, inbox] of this.#inboxes) if (!inbox.listening) this.#inboxes.delete(key);
  }

  get loadedRooms(): number {
    return this.#rooms.size;
  }

  /** Graceful stop: commits what is pending, then closes every connection with 1001. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweeper);
    await Promise.allSettled([...this.#loading.values()]);
    await Promise.all([...this.#rooms.values()].map((room) => room.close()));
    for (const inbox of this.#inboxes.values())
      inbox.close(CloseCode.goingAway, "the relay is shutting down");
  }
}
