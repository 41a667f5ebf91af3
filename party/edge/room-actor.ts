/**
 * A conversation room inside a workerd actor (a Durable Object via partyserver, or a PartyKit
 * party): the shared RoomHost, with the actor's sockets as Connections. The two runtimes' shells
 * only route their callbacks here, so both behave the same: the same room, rebuilt from libSQL
 * on wake, hibernation-safe socket state, SSE, and one RPC entry point for the HTTP API.
 *
 * Thread-list changes go only to the members whose inbox listens (`ListeningInboxes`, kept in
 * the actor's own storage): inbox actors register here when their first socket opens and
 * unregister when their last one closes, so a commit wakes no inbox that nobody watches.
 *
 * With `PARLEY_EDGE_COMMIT=room` (the default) the room's store is its write-ahead log in the
 * actor's storage (room-wal.ts): a send is acknowledged and fanned out once it is there, and
 * what reads libSQL for others (the inboxes' thread frames, webhook delivery) waits until the
 * flush behind it has landed, so a thread frame and the thread list it announces agree.
 */
import type { ConnectionIdentity, SocketData } from "../core/connection.ts";
import type { InboxRouter } from "../core/conversation-room.ts";
import { ParleyError } from "../core/errors.ts";
import { randomId } from "../core/ids.ts";
import { frames } from "../core/outbound-frame.ts";
import { identityOf, resumePointOf } from "../host/forwarded-identity.ts";
import { RoomHost } from "../host/room-host.ts";
import type { ActorWebhooks } from "../host/webhooks/actor-webhooks.ts";
import { toWire, type WireResult } from "../host/wire-errors.ts";
import type { ActorStorage } from "./actor-storage.ts";
import { type EdgeConfig, splitName } from "./config.ts";
import { EdgeSocket, type EdgeWebSocket, keptSockets } from "./edge-socket.ts";
import { closeIfTooLarge } from "./frame-limit.ts";
import { ListeningInboxes } from "./listening-inboxes.ts";
import { edgeLog, edgeOnError } from "./log.ts";
import { RoomWal } from "./room-wal.ts";
import type { WalStorage } from "./wal-storage.ts";

/** What a room actor needs from its runtime. */
export interface RoomActorPorts {
  /** The actor's own storage (see actor-storage.ts), which also holds the room's log. */
  storage: ActorStorage & WalStorage;
  /**
   * Sends one encoded `thread` frame of this conversation to a user's inbox actor; resolves to
   * whether that inbox still listens.
   */
  deliverToInbox(app: string, userId: string, conversationId: string, frameText: string): Promise<boolean>;
  /** Sets the actor's alarm to `at` (ms since the epoch) unless it is already set sooner. */
  setAlarm(at: number): Promise<void>;
}

export class RoomActor {
  #host: RoomHost | undefined;
  #webhooks: ActorWebhooks | undefined;
  /** The room's write-ahead log (PARLEY_EDGE_COMMIT=room), made with the host. */
  #wal: RoomWal | undefined;
  readonly #listening: ListeningInboxes;
  readonly #app: string;
  readonly #conversationId: string;
  /** This room on every log line: its app and conversation. */
  get #where() {
    return { app: this.#app, conversationId: this.#conversationId };
  }

  constructor(
    /** The actor's name: `app:conversationId`. */
    private readonly name: string,
    private readonly config: () => EdgeConfig,
    private readonly ports: RoomActorPorts,
  ) {
    const { app, key } = splitName(name);
    this.#app = app;
    this.#conversationId = key;
    this.#listening = new ListeningInboxes(ports.storage);
  }

  /** Where thread-list changes go: the inbox actors that listen, and no others. */
  readonly #inbox: InboxRouter = {
    isListening: (_app, userId) => this.#listening.has(userId),
    deliver: (app, userId, frame) => {
      this.#afterFlush(() => void this.#deliver(app, userId, frame.text));
    },
  };

  /** Runs `work` once libSQL has what the room acknowledged so far (at once without a log). */
  #afterFlush(work: () => void): void {
    if (this.#wal) this.#wal.afterFlush(work);
    else work();
  }

  /** One delivery; an inbox that answers it no longer listens is dropped from the set. */
  async #deliver(app: string, userId: string, frameText: string): Promise<void> {
    const registration = this.#listening.registration(userId);
    try {
      const listening = await this.ports.deliverToInbox(app, userId, this.#conversationId, frameText);
      if (listening || registration === undefined) return;
      // Left behind by an inbox that could not unregister (evicted, say): it cost this one wake.
      if (await this.#listening.lapsed(userId, registration))
        edgeLog.info(this.#where, `room ${this.name} dropped the inbox of ${userId}: it no longer listens`);
    } catch (error) {
      edgeLog.error({ ...this.#where, userId, err: error }, "inbox delivery failed");
    }
  }

  /**
   * The host, made on first use (the configuration is read from the actor's variables). Every
   * entry point below reads the listening set first, so the room never asks it before it is known.
   */
  get host(): RoomHost {
    if (!this.#host) {
      const { limits, webhooks, commit } = this.config();
      const store = this.config().roomStore();
      if (commit === "room")
        this.#wal = new RoomWal(store, this.ports.storage, this.#app, this.#conversationId, {
          onError: edgeOnError(this.#where),
          wakeAt: (at) =>
            void this.ports
              .setAlarm(at)
              .catch((e: unknown) =>
                edgeLog.error({ ...this.#where, err: e }, "setting the log's alarm failed"),
              ),
        });
      const delivery = this.webhooks;
      this.#host = new RoomHost(this.#app, this.#conversationId, {
        store: this.#wal ?? store,
        limits,
        inbox: this.#inbox,
        // Delivery reads the log from libSQL: it hears of a commit once the commit is there.
        webhooks: {
          active: (app) => delivery.active(app),
          changed: (app, id) => this.#afterFlush(() => delivery.changed(app, id)),
        },
        screen: webhooks.screen,
        onError: edgeOnError(this.#where),
        now: Date.now,
        defer: (fn) => setTimeout(fn, 0),
        newMessageId: () => randomId("m_"),
      });
    }
    return this.#host;
  }

  /** The room's log, made with the host (an alarm may ring before anything else used the room). */
  #logOf(): RoomWal {
    void this.host;
    return this.#wal as RoomWal;
  }

  /** This conversation's webhook delivery, driven by the actor's alarm. */
  get webhooks(): ActorWebhooks {
    this.#webhooks ??= this.config().webhooks.forRoom(this.#app, this.#conversationId, (at) => {
      this.ports
        .setAlarm(at)
        .catch((e: unknown) => edgeLog.error({ ...this.#where, err: e }, "setting the webhook alarm failed"));
    });
    return this.#webhooks;
  }

  /**
   * What every entry point reads before the room acts: which inboxes listen, and whether the
   * app has webhook endpoints (its messages then record who was connected). The endpoints are
   * read once; a store that cannot answer them costs the recipients, never the send.
   */
  async #ready(): Promise<void> {
    await this.#listening.load();
    try {
      await this.config().webhooks.ready();
      await this.webhooks.ready();
    } catch (error) {
      edgeLog.error({ ...this.#where, err: error }, "the room could not read its webhook endpoints");
    }
  }

  /**
   * The alarm: delivers this conversation's webhook events (see actor-webhooks.ts) and answers
   * when the next alarm should ring (a lane has more to do, or must wait to retry), or
   * undefined. It never throws, so the runtime's own alarm retries never run a second
   * delivery beside ours; the shell sets the alarm it answers.
   */
  async alarm(): Promise<number | undefined> {
    try {
      // First what the room's log still holds (an evicted actor's, or a flush that failed):
      // delivery reads libSQL. Until it lands, the alarm rings again.
      const retry = this.config().commit === "room" ? await this.#logOf().flushPending() : undefined;
      if (retry !== undefined) return retry;
      await this.config().webhooks.ready();
      return await this.webhooks.run();
    } catch (error) {
      edgeLog.error({ ...this.#where, err: error }, "webhook alarm failed");
      return Date.now() + this.config().limits.webhookRetryBaseMs;
    }
  }

  /**
   * After a wake: sockets kept through hibernation are live again (no replay: they had
   * everything). With no socket kept there is nothing to adopt, and the room is loaded from
   * libSQL by its first use instead: an actor woken only to be told that an inbox listens
   * reads its own storage, never the database.
   */
  async start(kept: Iterable<EdgeWebSocket>): Promise<void> {
    await this.#ready();
    const sockets = keptSockets(kept);
    if (sockets.length === 0) return;
    await this.host.adopt(sockets);
    const room = this.host.room;
    // One line per (re)start with sockets: after hibernation it shows the sockets that were kept.
    if (room)
      edgeLog.info(
        { ...this.#where, seq: room.lastSeq, sockets: this.host.connections },
        `room ${this.name} started at seq ${room.lastSeq} with ${this.host.connections} kept sockets`,
      );
  }

  /** A new socket, already admitted by the front door; `remember` stores the identity in its attachment. */
  async connect(
    ws: EdgeWebSocket,
    request: Request,
    remember: (identity: ConnectionIdentity) => void,
  ): Promise<void> {
    const identity = identityOf(request.headers);
    remember(identity);
    await this.#ready();
    await this.host.connect(new EdgeSocket(ws), identity, resumePointOf(request));
  }

  /** A frame from a socket; one over the frame limit closes it with 1009 unread (frame-limit.ts). */
  async message(ws: EdgeWebSocket, data: SocketData): Promise<void> {
    if (closeIfTooLarge(ws, data, this.config().limits.maxFrameBytes)) return;
    await this.#ready();
    return this.host.receive(ws.id, data);
  }

  forget(ws: EdgeWebSocket): void {
    this.host.leave(ws.id);
  }

  /** An SSE subscriber, forwarded by the front door with the verified identity. */
  async events(request: Request): Promise<Response> {
    await this.#ready();
    return this.host.events(identityOf(request.headers), resumePointOf(request), request.signal);
  }

  /**
   * RPC: the HTTP API's calls (refusals travel as data); an inbox actor's `listen` and
   * `unlisten`, which touch only the listening set; and `wakeWebhooks` (a new conversation, a
   * resumed endpoint), which sets the alarm if an endpoint has work, without loading the room. A member added is told of the conversation
   * at once (their inbox registers here if it listens); a member removed is dropped from the set.
   */
  async call(method: string, args: unknown[]): Promise<WireResult<unknown>> {
    if (method === "wakeWebhooks") {
      return toWire(async () => {
        await this.config().webhooks.ready();
        await this.webhooks.wake();
      }, edgeOnError(this.#where));
    }
    if (method === "listen" || method === "unlisten") {
      return toWire(() => {
        const userId = args[0];
        if (typeof userId !== "string" || userId === "")
          throw new ParleyError("bad_request", `${method} wants a user id`);
        return method === "listen" ? this.#listening.listen(userId) : this.#listening.unlisten(userId);
      }, edgeOnError(this.#where));
    }
    const loaded = await toWire(() => this.#ready(), edgeOnError(this.#where));
    if (!loaded.ok) return loaded;
    const result = await this.host.call(method, args);
    if (result.ok && typeof args[0] === "string") {
      if (method === "addMember") await this.#tellNewMember(args[0]);
      else if (method === "removeMember")
        await this.#listening
          .unlisten(args[0])
          .catch((e: unknown) => edgeLog.error({ ...this.#where, err: e }, "unlisten failed"));
    }
    return result;
  }

  /**
   * A new member's inbox hears of the conversation once, directly: it is not in the listening
   * set yet, and if it listens it registers here before answering (the inbox actor does that
   * for a conversation it did not know), so the member's next thread frames follow.
   */
  async #tellNewMember(userId: string): Promise<void> {
    const room = this.host.room;
    if (!room?.isMember(userId)) return;
    const frame = frames.thread(room.threadItem(userId)).text;
    await this.ports
      .deliverToInbox(this.#app, userId, this.#conversationId, frame)
      .catch((e: unknown) => edgeLog.error({ ...this.#where, err: e }, "inbox delivery failed"));
  }
}
