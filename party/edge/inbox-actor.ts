/**
 * A user's inbox inside a workerd actor: the shared InboxRoom (the same class Node uses, with
 * its frame budget and 4008 for a flooding socket), with the actor's sockets as Connections.
 *
 * On the edge the inbox also tells the user's rooms whether it listens, so that a room sends
 * `thread` frames only to inboxes with an open socket and a commit wakes no other inbox actor:
 *
 * - Before a socket opens, the front door awaits `prepare()`: the inbox marks itself as
 *   listening in the store (so that a new conversation tells it; one created for members with
 *   no mark wakes no inbox actor: party/host/inbox-listeners.ts), then registers (`listen`)
 *   with the rooms of the user's most recent conversations (at most `REGISTER_CAP`, read from
 *   the store in pages), a few at a time, so no commit falls between the client's `open` and
 *   the registration. Once registered it is a no-op (a second tab costs nothing).
 * - A `thread` frame from a conversation it did not register with (a new conversation, a
 *   membership added, one beyond the cap that was created later) makes it register there too,
 *   before it answers.
 * - When the last socket closes, it waits `HOLD_MS` (a reload comes back at once) and then
 *   takes its mark back and unregisters (`unlisten`) from every room it registered with.
 * - `deliver` answers whether the inbox still listens; a room that hears "no" drops it. So a
 *   registration left behind (an actor evicted before it could unregister) costs one wake per
 *   room, once.
 *
 * Which rooms it registered with, and whether all of them accepted, is kept in the actor's own
 * storage: an inbox woken from hibernation with its sockets still open knows it is registered.
 */
import type { ConnectionIdentity, SocketData } from "../core/connection.ts";
import { InboxRoom } from "../core/inbox-room.ts";
import { OutboundFrame } from "../core/outbound-frame.ts";
import type { ThreadCursor } from "../core/store.ts";
import { identityOf } from "../host/forwarded-identity.ts";
import type { ListenCall } from "../host/room-api.ts";
import type { ActorStorage } from "./actor-storage.ts";
import { type EdgeConfig, splitName } from "./config.ts";
import { EdgeSocket, type EdgeWebSocket, keptSockets } from "./edge-socket.ts";
import { closeIfTooLarge } from "./frame-limit.ts";
import { edgeLog } from "./log.ts";

/**
 * The most conversations an inbox registers with when it opens: the user's most recent ones by
 * last activity. Older ones still appear in `GET /v1/conversations`, but send no live `thread`
 * frame until they register (a new conversation or membership registers at once).
 */
export const REGISTER_CAP = 1_000;
/** Threads read from the store per page while registering. */
const PAGE = 200;
/** Rooms told at once while registering or unregistering. */
const CONCURRENCY = 16;
/**
 * How long an inbox counts as listening with no socket: after `prepare()` until the socket
 * arrives, and after the last socket closed (a reload), before it unregisters.
 */
export const HOLD_MS = 10_000;

const ROOM_PREFIX = "room:";
const REGISTERED = "registered";

/** What an inbox actor needs from its runtime. */
export interface InboxActorPorts {
  /** The actor's own storage (see actor-storage.ts). */
  storage: ActorStorage;
  /** The sockets the actor kept through hibernation. */
  kept(): Iterable<EdgeWebSocket>;
  /** A host-level call on a room actor: this user's inbox listens there, or no longer does. */
  tellRoom(app: string, conversationId: string, method: ListenCall["method"], userId: string): Promise<void>;
}

/** Runs `fn` on every item, at most `limit` at a time. */
async function eachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class InboxActor {
  #inbox: InboxRoom | undefined;
  readonly #app: string;
  readonly #userId: string;
  /**
   * Whether every room this inbox asked accepted its registration and none has dropped it since.
   * Unknown (read from storage) only in an actor that woke with sockets kept; false in one that
   * woke without any, since rooms may have dropped it while it had none.
   */
  #registered: boolean | undefined;
  /** The rooms this inbox registered with (read from storage on first need). */
  #rooms: Set<string> | undefined;
  /** Registration work, one step at a time: a `listen` never overtakes an `unlisten`. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Registrations queued or running: the inbox answers that it listens meanwhile. */
  #pending = 0;
  /** Until then the inbox counts as listening without a socket (see HOLD_MS). */
  #holdUntil = 0;
  #unregisterTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** The actor's name: `app:userId`. */
    private readonly name: string,
    private readonly config: () => EdgeConfig,
    private readonly ports: InboxActorPorts,
  ) {
    const { app, key } = splitName(name);
    this.#app = app;
    this.#userId = key;
  }

  /** The inbox, made on first use with the sockets kept through hibernation (one log line per start). */
  get #room(): InboxRoom {
    if (!this.#inbox) {
      const inbox = new InboxRoom(this.#app, this.#userId, this.config().limits, Date.now);
      const kept = keptSockets(this.ports.kept());
      for (const { conn, identity } of kept) inbox.adopt(conn, identity);
      this.#registered = inbox.listening ? undefined : false;
      this.#inbox = inbox;
      edgeLog.info(
        { app: this.#app, userId: this.#userId, sockets: kept.length },
        `inbox ${this.name} started with ${kept.length} kept sockets`,
      );
    }
    return this.#inbox;
  }

  /** After a wake: sockets kept through hibernation listen again. */
  start(): void {
    void this.#room;
  }

  /** True while thread frames are worth sending here. */
  get #listening(): boolean {
    return this.#room.listening || this.#pending > 0 || Date.now() < this.#holdUntil;
  }

  /**
   * The front door's call before it forwards an inbox socket: resolves once the user's rooms
   * know that this inbox listens (at once when they already do).
   */
  async prepare(): Promise<void> {
    void this.#room;
    this.#holdUntil = Math.max(this.#holdUntil, Date.now() + HOLD_MS);
    await this.#register();
  }

  /** A new inbox socket, already admitted (the owner's own) by the front door. */
  connect(ws: EdgeWebSocket, request: Request, remember: (identity: ConnectionIdentity) => void): void {
    const room = this.#room;
    const identity = identityOf(request.headers);
    remember(identity);
    if (!room.connect(new EdgeSocket(ws), identity)) return;
    // Registered already (by `prepare`), or it failed there: then once more now.
    if (this.#registered !== true)
      this.#register().catch((e: unknown) =>
        edgeLog.error({ app: this.#app, userId: this.#userId, err: e }, "inbox registration failed"),
      );
  }

  /** A frame from a socket; one over the frame limit closes it with 1009 unread (frame-limit.ts). */
  message(ws: EdgeWebSocket, data: SocketData): void {
    if (closeIfTooLarge(ws, data, this.config().limits.maxFrameBytes)) return;
    this.#room.receive(ws.id, data);
  }

  /** A socket closed; after the last one, and `HOLD_MS` without a new one, the inbox unregisters. */
  forget(ws: EdgeWebSocket): void {
    const room = this.#room;
    room.leave(ws.id);
    if (room.listening) return;
    this.#holdUntil = Math.max(this.#holdUntil, Date.now() + HOLD_MS);
    this.#scheduleUnregister();
  }

  /**
   * One of the user's threads changed: its encoded `thread` frame, for every open inbox socket.
   * Answers whether the inbox listens (a room drops it on false). A conversation it had not
   * registered with (new, or a membership added) gets its registration before the answer.
   */
  async deliver(conversationId: string, frameText: string): Promise<boolean> {
    const room = this.#room;
    if (!this.#listening) {
      // The room drops this inbox: a later socket must register everywhere again.
      this.#registered = false;
      // A mark left behind (an actor gone while it listened) would wake this inbox for every new
      // conversation: take it back, in turn with registrations, so a newer one keeps its mark.
      this.#serial(() => (this.#listening ? Promise.resolve() : this.#mark(false))).catch((e: unknown) =>
        edgeLog.error(
          { app: this.#app, userId: this.#userId, err: e },
          "clearing the inbox's listening mark failed",
        ),
      );
      return false;
    }
    room.deliver(new OutboundFrame(frameText));
    if (!(await this.#knownRooms()).has(conversationId)) await this.#learn(conversationId);
    return true;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #knownRooms(): Promise<Set<string>> {
    if (this.#rooms) return Promise.resolve(this.#rooms);
    return this.ports.storage.list<true>({ prefix: ROOM_PREFIX }).then((stored) => {
      this.#rooms ??= new Set([...stored.keys()].map((k) => k.slice(ROOM_PREFIX.length)));
      return this.#rooms;
    });
  }

  async #isRegistered(): Promise<boolean> {
    this.#registered ??= (await this.ports.storage.get<boolean>(REGISTERED)) === true;
    return this.#registered;
  }

  /** The ids of the user's most recent conversations, at most REGISTER_CAP, in pages. */
  async #recentConversations(): Promise<string[]> {
    const { store } = this.config();
    const ids: string[] = [];
    let cursor: ThreadCursor | undefined;
    for (let page = 0; page <= REGISTER_CAP / PAGE && ids.length < REGISTER_CAP; page++) {
      const limit = Math.min(PAGE, REGISTER_CAP - ids.length);
      const rows = await store.listThreads(this.#app, this.#userId, { limit, cursor });
      for (const row of rows) ids.push(row.id);
      const last = rows.at(-1);
      if (!last || rows.length < limit) break;
      cursor = { lastActivityAt: last.lastActivityAt, id: last.id };
    }
    return ids;
  }

  /** Registers with the rooms of the user's recent conversations, unless registered already. */
  #register(): Promise<void> {
    this.#pending++;
    return this.#serial(async () => {
      if (await this.#isRegistered()) return;
      // Marked before the conversations are read: a conversation created meanwhile either finds
      // the mark and tells this inbox, or is in the read (party/host/inbox-listeners.ts).
      await this.#mark(true);
      const rooms = await this.#knownRooms();
      let failed = 0;
      await eachBounded(await this.#recentConversations(), CONCURRENCY, async (id) => {
        try {
          // Remembered first: a registration is never left without the means to undo it.
          if (!rooms.has(id)) {
            rooms.add(id);
            await this.ports.storage.put(ROOM_PREFIX + id, true);
          }
          await this.ports.tellRoom(this.#app, id, "listen", this.#userId);
        } catch (error) {
          failed++;
          edgeLog.error(
            { app: this.#app, userId: this.#userId, conversationId: id, err: error },
            "the inbox could not register with a room",
          );
        }
      });
      // A room that refused is asked again by the next socket (or this one's connect).
      if (failed > 0) return;
      this.#registered = true;
      await this.ports.storage.put(REGISTERED, true);
    }).finally(() => {
      this.#pending--;
    });
  }

  /** Registers with one more conversation (one this inbox had not heard of). */
  #learn(conversationId: string): Promise<void> {
    this.#pending++;
    return this.#serial(async () => {
      const rooms = await this.#knownRooms();
      if (rooms.has(conversationId)) return;
      rooms.add(conversationId);
      await this.ports.storage.put(ROOM_PREFIX + conversationId, true);
      await this.ports.tellRoom(this.#app, conversationId, "listen", this.#userId);
    }).finally(() => {
      this.#pending--;
    });
  }

  /** Marks in the store whether this inbox listens, for new conversations to find. */
  #mark(listening: boolean): Promise<void> {
    return this.config().store.inboxListeners.mark(this.#app, this.#userId, listening);
  }

  #scheduleUnregister(): void {
    clearTimeout(this.#unregisterTimer);
    const wait = Math.max(0, this.#holdUntil - Date.now()) + 10;
    this.#unregisterTimer = setTimeout(() => {
      this.#unregisterTimer = undefined;
      this.#unregisterIfIdle().catch((e: unknown) =>
        edgeLog.error({ app: this.#app, userId: this.#userId, err: e }, "inbox unregistration failed"),
      );
    }, wait);
  }

  /** Nobody listens any more (no socket, nothing pending, the hold is over): unregister everywhere. */
  #unregisterIfIdle(): Promise<void> {
    return this.#serial(async () => {
      if (this.#listening) {
        if (!this.#room.listening) this.#scheduleUnregister();
        return;
      }
      this.#registered = false;
      await this.ports.storage.delete(REGISTERED);
      // Not fatal: a mark left behind is taken back at the next delivery it causes.
      await this.#mark(false).catch((e: unknown) =>
        edgeLog.error(
          { app: this.#app, userId: this.#userId, err: e },
          "clearing the inbox's listening mark failed",
        ),
      );
      const rooms = await this.#knownRooms();
      await eachBounded([...rooms], CONCURRENCY, async (id) => {
        try {
          await this.ports.tellRoom(this.#app, id, "unlisten", this.#userId);
        } catch (error) {
          // That room drops this inbox at its next delivery instead.
          edgeLog.error(
            { app: this.#app, userId: this.#userId, conversationId: id, err: error },
            "the inbox could not unregister from a room",
          );
        }
        rooms.delete(id);
        await this.ports.storage.delete(ROOM_PREFIX + id);
      });
    });
  }
}
