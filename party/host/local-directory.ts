/**
 * The directory of a single-process relay (Node, Deno): every conversation's RoomHost and every
 * user's inbox live in this process. Rooms load on first use and leave memory when idle; an
 * inbox exists while someone listens to it. It also counts each user's open connections.
 */
import type { Connection, ConnectionIdentity } from "../core/connection.ts";
import type {
  ConversationRoom,
  InboxRouter,
  RoomEnvironment,
  RoomWebhooks,
} from "../core/conversation-room.ts";
import { CloseCode, ParleyError, storeRefusal } from "../core/errors.ts";
import { randomId } from "../core/ids.ts";
import { InboxRoom } from "../core/inbox-room.ts";
import type { Limits } from "../core/limits.ts";
import type { OnError } from "../core/log.ts";
import { noMetrics, type RelayMetrics } from "../core/metrics.ts";
import { frames, type OutboundFrame } from "../core/outbound-frame.ts";
import type { SendScreen } from "../core/room/screening.ts";
import { SharedWindows } from "../core/room/shared-windows.ts";
import type { Store, ThreadCursor } from "../core/store.ts";
import type { Directory, EventStreamRequest, NewConversation } from "./directory.ts";
import { createConversation } from "./new-conversation.ts";
import type { Admission } from "./room-api.ts";
import { RoomHost } from "./room-host.ts";
import { UserBudgets } from "./user-budgets.ts";

export interface HubOptions {
  store: Store;
  limits: Limits;
  onError: OnError;
  now?: () => number;
  defer?: (fn: () => void) => void;
  /** Webhook delivery (rooms record recipients and wake it after commits). */
  webhooks?: RoomWebhooks | undefined;
  /** The apps' pre-send hooks. */
  screen?: SendScreen | undefined;
  /** Where rooms, connections and refusals are counted (none: nothing is counted). */
  metrics?: RelayMetrics | undefined;
}

/** What carries a connection that counts against a user's cap. */
export type ConnectionTransport = "websocket" | "sse" | "long_poll";

const keyOf = (app: string, id: string) => `${app}\u0000${id}`;

export class RelayHub implements InboxRouter, Directory {
  readonly store: Store;
  readonly limits: Limits;
  readonly env: RoomEnvironment;
  #hosts = new Map<string, RoomHost>();
  #inboxes = new Map<string, InboxRoom>();
  /**
   * Open connections per user, by app then user id: keyed by the user's id itself, which the
   * connection holds anyway (a joined `app + id` key was one more string per connected user).
   */
  #connectionsByUser = new Map<string, Map<string, number>>();
  /** Open connections by transport (the metrics' gauges). */
  #open: Record<ConnectionTransport, number> = { websocket: 0, sse: 0, long_poll: 0 };
  readonly #metrics: RelayMetrics;
  /** What each user may make this process read per second (socket frames and HTTP bodies). */
  readonly budgets: UserBudgets;
  #sweeper: ReturnType<typeof setInterval>;
  #closing = false;

  constructor(options: HubOptions) {
    this.store = options.store;
    this.limits = options.limits;
    this.#metrics = options.metrics ?? noMetrics;
    this.env = {
      store: options.store,
      limits: options.limits,
      inbox: this,
      onError: options.onError,
      now: options.now ?? Date.now,
      defer: options.defer ?? ((fn) => setTimeout(fn, 0)),
      newMessageId: () => randomId("m_"),
      webhooks: options.webhooks,
      screen: options.screen,
      metrics: options.metrics,
      // Thousands of rooms with a message now and then: one timer per window, not one per room.
      later: new SharedWindows(options.onError).later,
    };
    this.budgets = new UserBudgets(this.limits, this.env.now, this.#metrics);
    this.#sweeper = setInterval(() => this.sweep(), Math.max(1_000, this.limits.roomIdleMs / 2));
    // Node: the sweeper alone must not keep the process alive.
    (this.#sweeper as { unref?: () => void }).unref?.();
  }

  /** The host of a conversation, loaded; 404 when there is no such conversation. */
  async host(app: string, id: string): Promise<RoomHost> {
    if (this.#closing) throw new ParleyError("shutting_down", "the relay is shutting down; retry shortly", 1);
    const key = keyOf(app, id);
    let host = this.#hosts.get(key);
    if (!host) {
      host = new RoomHost(app, id, this.env);
      this.#hosts.set(key, host);
    }
    // A store that cannot answer is a 503 from the host itself.
    const room = await host.load();
    if (!room) {
      // Not kept: probing ids that do not exist must not grow memory.
      if (this.#hosts.get(key) === host && host.idle) this.#hosts.delete(key);
      throw new ParleyError("not_found", `no conversation "${id}"`);
    }
    room.lastUsedAt = this.env.now();
    return host;
  }

  /** The room of a conversation, loading it on first use; 404 when there is no such conversation. */
  async room(app: string, id: string): Promise<ConversationRoom> {
    return (await this.host(app, id)).required();
  }

  /**
   * The host of a conversation whose room is loaded, without waiting; undefined when it is not
   * loaded (use `host`) or the relay is closing. Marks the room used, as `host` does.
   */
  loadedHost(app: string, id: string): RoomHost | undefined {
    if (this.#closing) return undefined;
    const host = this.#hosts.get(keyOf(app, id));
    const room = host?.room;
    if (!room) return undefined;
    room.lastUsedAt = this.env.now();
    return host;
  }

  /**
   * Whether `userId` may attach to the conversation (or "shutting_down"). Answered at once when
   * the room is loaded: in a reconnect storm nearly every socket's room is, and three awaits per
   * socket were promises and microtask turns (issue 17).
   */
  admission(app: string, id: string, userId: string): Admission | Promise<Admission | "shutting_down"> {
    const room = this.loadedHost(app, id)?.room;
    if (room) return room.isMember(userId) ? "ok" : "forbidden";
    return this.#admissionAfterLoad(app, id, userId);
  }

  async #admissionAfterLoad(app: string, id: string, userId: string): Promise<Admission | "shutting_down"> {
    try {
      const room = await this.room(app, id);
      return room.isMember(userId) ? "ok" : "forbidden";
    } catch (error) {
      if (error instanceof ParleyError && error.code === "not_found") return "not_found";
      if (error instanceof ParleyError && error.code === "shutting_down") return "shutting_down";
      throw error;
    }
  }

  /** Creates a conversation (409 when the id is taken) and tells its members' inboxes. */
  async createConversation(app: string, input: NewConversation) {
    const { view, thread } = await createConversation(this.store, app, input, this.env.onError);
    this.env.webhooks?.changed(app, view.id);
    for (const { userId } of view.members)
      if (this.isListening(app, userId)) this.deliver(app, userId, frames.thread(thread));
    return view;
  }

  listThreads(app: string, userId: string, page: { limit: number; cursor?: ThreadCursor | undefined }) {
    return this.store
      .listThreads(app, userId, page)
      .catch(storeRefusal(this.env.onError, "listing threads failed", { app, userId }));
  }

  /** An SSE subscriber: a connection like a socket, counted against the user's connection cap. */
  async openEventStream(request: EventStreamRequest): Promise<Response> {
    const host = await this.host(request.app, request.conversationId);
    const room = await host.required();
    if (!room.isMember(request.userId))
      throw new ParleyError("forbidden", "you are not a member of this conversation");
    const { instanceId } = request;
    const releaseSlot = this.acquireConnection(
      request.app,
      request.userId,
      "sse",
      () => instanceId !== undefined && room.holdsInstance(request.userId, instanceId),
    );
    if (!releaseSlot) throw new ParleyError("rate_limited", "too many open connections for this user", 5);
    const identity = { app: request.app, userId: request.userId, instanceId: request.instanceId };
    try {
      return await host.events(identity, request.after, request.signal, releaseSlot);
    } catch (error) {
      releaseSlot();
      throw error;
    }
  }

  /**
   * Opens a verified inbox socket of `owner`. The inbox actor is created only for a socket it
   * accepts (the owner's own), so refused upgrades leave nothing behind.
   */
  openInbox(owner: string, conn: Connection, identity: ConnectionIdentity): InboxRoom | null {
    if (identity.userId !== owner) {
      conn.close(CloseCode.forbidden, "you may open only your own inbox");
      return null;
    }
    const key = keyOf(identity.app, owner);
    let inbox = this.#inboxes.get(key);
    if (!inbox) {
      inbox = new InboxRoom(identity.app, owner, this.limits, this.env.now, this.#metrics);
      this.#inboxes.set(key, inbox);
    }
    return inbox.connect(conn, identity) ? inbox : null;
  }

  /**
   * Whether a connection of this client instance is open to the conversation (or, with no
   * conversation, to the user's inbox): a newer one replaces it (4009).
   */
  holdsInstance(
    app: string,
    userId: string,
    conversationId: string | undefined,
    instanceId: string,
  ): boolean {
    if (conversationId === undefined)
      return this.#inboxes.get(keyOf(app, userId))?.holdsInstance(instanceId) ?? false;
    return this.#hosts.get(keyOf(app, conversationId))?.room?.holdsInstance(userId, instanceId) ?? false;
  }

  isListening(app: string, userId: string): boolean {
    return this.#inboxes.get(keyOf(app, userId))?.listening ?? false;
  }

  deliver(app: string, userId: string, frame: OutboundFrame): void {
    this.#inboxes.get(keyOf(app, userId))?.deliver(frame);
  }

  /**
   * Counts one more open connection (socket, SSE stream or held long-poll) of a user, across
   * all their conversations and their inbox. Returns its release, or null when the user is at
   * the cap.
   */
  acquireConnection(
    app: string,
    userId: string,
    transport: ConnectionTransport = "websocket",
    replaces?: () => boolean,
  ): (() => void) | null {
    if (!this.tryAcquireConnection(app, userId, transport, replaces)) return null;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.releaseConnection(app, userId, transport);
    };
  }

  /**
   * `acquireConnection` without the release closure, for a caller that keeps a flag of its own
   * and calls `releaseConnection` exactly once: the Node gateway, where a closure and its scope
   * per idle socket was memory (issue 17). False when the user is at the cap, unless `replaces`
   * says the new connection replaces an open one of the same client instance (`_pk`): that one
   * is closed with 4009 as the new one attaches, so the count is back at the cap right after.
   */
  tryAcquireConnection(
    app: string,
    userId: string,
    transport: ConnectionTransport,
    replaces?: () => boolean,
  ): boolean {
    let users = this.#connectionsByUser.get(app);
    if (!users) {
      users = new Map();
      this.#connectionsByUser.set(app, users);
    }
    const open = users.get(userId) ?? 0;
    if (open >= this.limits.maxConnectionsPerUser && !replaces?.()) {
      this.#metrics.rateLimited("connections");
      return false;
    }
    users.set(userId, open + 1);
    this.#open[transport]++;
    return true;
  }

  /** Gives back one slot taken by `tryAcquireConnection` (once per slot: the caller keeps count). */
  releaseConnection(app: string, userId: string, transport: ConnectionTransport): void {
    this.#open[transport]--;
    const users = this.#connectionsByUser.get(app);
    if (!users) return;
    const left = (users.get(userId) ?? 1) - 1;
    if (left > 0) users.set(userId, left);
    else users.delete(userId);
  }

  /** Drops rooms idle for `roomIdleMs` and inboxes nobody listens to. */
  sweep(): void {
    const now = this.env.now();
    for (const [key, host] of this.#hosts) {
      const room = host.room;
      if (host.idle && (!room || now - room.lastUsedAt >= this.limits.roomIdleMs)) this.#hosts.delete(key);
    }
    for (const [key, inbox] of this.#inboxes) if (!inbox.listening) this.#inboxes.delete(key);
    this.budgets.sweep();
  }

  /** Inbox actors in memory (one per user with an open inbox socket). */
  get inboxCount(): number {
    return this.#inboxes.size;
  }

  /** Connections open now, by transport (each counted from its slot's acquiring to its release). */
  openConnections(transport: ConnectionTransport): number {
    return this.#open[transport];
  }

  get loadedRooms(): number {
    let loaded = 0;
    for (const host of this.#hosts.values()) if (host.room) loaded++;
    return loaded;
  }

  /** Graceful stop: commits what is pending, then closes every connection with 1001. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweeper);
    await Promise.all([...this.#hosts.values()].map((host) => host.close()));
    for (const inbox of this.#inboxes.values())
      inbox.close(CloseCode.goingAway, "the relay is shutting down");
  }
}
