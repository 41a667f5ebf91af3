/**
 * Hosting one conversation room, the same on every runtime: Node's local directory keeps one
 * RoomHost per loaded conversation, and each edge actor (a Durable Object, a PartyKit party) is
 * one. The host loads the room from the store (once, however many callers race), attaches
 * connections by their id, turns socket data into room frames, serves SSE subscribers, and
 * answers RPC calls. Adapters only translate their runtime's sockets into `Connection`s.
 */
import type { Connection, ConnectionIdentity, SocketData } from "../core/connection.ts";
import { ConversationRoom, type Peer, type RoomEnvironment } from "../core/conversation-room.ts";
import { CloseCode, ParleyError, storeRefusal } from "../core/errors.ts";
import { type Admission, invokeRoom } from "./room-api.ts";
import { SseConnection } from "./sse-connection.ts";
import { toWire, type WireResult } from "./wire-errors.ts";

export class RoomHost {
  #room: ConversationRoom | null = null;
  #loading: Promise<ConversationRoom | null> | undefined;
  /** Attached connections by their id (a hibernated socket keeps its id across wakes). */
  #peers = new Map<string, Peer>();

  constructor(
    readonly app: string,
    readonly conversationId: string,
    private readonly env: RoomEnvironment,
  ) {}

  /** The room if it is loaded. */
  get room(): ConversationRoom | null {
    return this.#room;
  }

  /**
   * The room, loaded from the store on first use; null while the conversation does not exist
   * (not remembered: it may be created later). Single-flight: a socket may connect while an
   * actor's start is still loading, and two loads would make two rooms, one of them with
   * sockets that never hear anything. A store that cannot answer is a 503 (`store_unavailable`)
   * to every caller, on every runtime; the next call tries again.
   */
  load(): Promise<ConversationRoom | null> {
    if (this.#room) return Promise.resolve(this.#room);
    this.#loading ??= ConversationRoom.load(this.app, this.conversationId, this.env).then(
      (room) => {
        this.#room = room;
        this.#loading = undefined;
        return room;
      },
      (error: unknown) => {
        this.#loading = undefined;
        return storeRefusal(this.env.onError, "loading a room failed", {
          app: this.app,
          conversationId: this.conversationId,
        })(error);
      },
    );
    return this.#loading;
  }

  /** The room, or 404. */
  async required(): Promise<ConversationRoom> {
    const room = await this.load();
    if (!room) throw new ParleyError("not_found", `no conversation "${this.conversationId}"`);
    return room;
  }

  /** Whether `userId` may attach a socket or stream. */
  async admission(userId: string): Promise<Admission> {
    const room = await this.load();
    if (!room) return "not_found";
    return room.isMember(userId) ? "ok" : "forbidden";
  }

  /**
   * Attaches a verified connection: replay after `after`, `synced`, then live. A connection
   * that cannot attach (no such conversation, not a member, shutting down) is closed with the
   * contract's code.
   */
  async connect(conn: Connection, identity: ConnectionIdentity, after: number | undefined): Promise<void> {
    const room = await this.load();
    if (!room) {
      conn.close(CloseCode.notFound, "no such conversation");
      return;
    }
    this.#attach(room, conn, identity, after);
  }

  /**
   * `connect` without waiting, when the room is loaded: false (nothing done) when it is not.
   * After a restart every socket of a reconnect storm attaches here, and the awaits of
   * `connect` were promises and microtask turns per socket (issue 17).
   */
  connectLoaded(conn: Connection, identity: ConnectionIdentity, after: number | undefined): boolean {
    const room = this.#room;
    if (!room) return false;
    this.#attach(room, conn, identity, after);
    return true;
  }

  #attach(
    room: ConversationRoom,
    conn: Connection,
    identity: ConnectionIdentity,
    after: number | undefined,
  ): void {
    const peer = room.connect(conn, identity, after);
    if (peer) this.#peers.set(conn.id, peer);
  }

  /**
   * Re-attaches connections that stayed open while the room was out of memory (an actor woken
   * from hibernation keeps its sockets): straight to live, no replay. The room only sleeps with
   * no commit in flight, and every commit reached live sockets before that.
   */
  async adopt(kept: Iterable<{ conn: Connection; identity: ConnectionIdentity }>): Promise<void> {
    const room = await this.load();
    if (!room) return;
    for (const { conn, identity } of kept) {
      // A socket that connected while the room was loading is already attached: never twice.
      if (this.#peers.has(conn.id)) continue;
      const peer = room.adopt(conn, identity);
      if (peer) this.#peers.set(conn.id, peer);
    }
  }

  /** Number of attached connections (sockets and SSE streams). */
  get connections(): number {
    return this.#peers.size;
  }

  /** A frame from an attached socket. */
  async receive(connId: string, data: SocketData): Promise<void> {
    const peer = this.#peers.get(connId);
    const room = this.#room;
    if (!peer || !room) return;
    await room.receive(peer, data);
  }

  /** The connection closed, whichever side closed it. */
  leave(connId: string): void {
    const peer = this.#peers.get(connId);
    if (!peer) return;
    this.#peers.delete(connId);
    this.#room?.leave(peer);
  }

  /**
   * An SSE subscriber (already authenticated): a connection like a socket. `onClosed` runs once
   * when the stream ends, whichever side ended it (the local directory releases a connection
   * slot there).
   */
  async events(
    identity: ConnectionIdentity,
    after: number | undefined,
    signal: AbortSignal,
    onClosed: () => void = () => {},
  ): Promise<Response> {
    const room = await this.required();
    if (!room.isMember(identity.userId))
      throw new ParleyError("forbidden", "you are not a member of this conversation");
    const connection = new SseConnection(
      this.env.limits.sseKeepAliveMs,
      () => {
        this.leave(connection.id);
        onClosed();
      },
      this.env.metrics,
    );
    await this.connect(connection, identity, after);
    signal.addEventListener("abort", () => connection.gone());
    return connection.response();
  }

  /** One RPC call from the HTTP API; refusals travel as data (see wire-errors.ts). */
  call(method: string, args: unknown[]): Promise<WireResult<unknown>> {
    return toWire(
      async () => {
        if (method === "exists") return (await this.load()) !== null;
        if (method === "admission") return this.admission(String(args[0]));
        return invokeRoom(await this.required(), method, args);
      },
      this.env.onError,
      { app: this.app, conversationId: this.conversationId },
    );
  }

  /** True when the room may be dropped from memory (nothing holds it). */
  get idle(): boolean {
    return this.#loading === undefined && (this.#room === null || this.#room.idle);
  }

  /** Finishes pending commits, then closes every connection (1001 on shutdown). */
  async close(): Promise<void> {
    await this.#loading?.catch(() => null);
    await this.#room?.close();
  }
}
