/**
 * WebSockets on Node with `ws`: `/parties/conversation/<id>` and `/parties/inbox/<userId>`.
 * Admission (path, origin, token, `after`, membership) is the shared host layer's; this file only
 * translates `ws` sockets. Admission runs before the upgrade completes, so by the time a client
 * sees `open` its connection is registered and no frame can be missed; refusals still complete
 * the upgrade and close with the contract's code, which browsers can read (an HTTP status they
 * cannot).
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import type { Connection, ConnectionIdentity, SocketData } from "../core/connection.ts";
import { CloseCode, isParleyError } from "../core/errors.ts";
import type { Limits } from "../core/limits.ts";
import { isSaneRequestId, type LogFields, type Logger } from "../core/log.ts";
import { noMetrics, type RelayMetrics } from "../core/metrics.ts";
import type { OutboundFrame } from "../core/outbound-frame.ts";
import { type AdmissionDeps, admitSocket, type SocketAdmission } from "../host/admission.ts";
import type { Authenticator } from "../host/auth.ts";
import { closeReason } from "../host/close-reason.ts";
import type { RelayHub } from "../host/local-directory.ts";
import type { OriginPolicy } from "../host/origins.ts";
import type { RoomHost } from "../host/room-host.ts";
import { type HeartbeatMember, HeartbeatSlices } from "./heartbeat-slices.ts";
import { nextSocketRequestId, requestIdText } from "./socket-request-ids.ts";

let nextId = 0;

/** At most this many bytes of one tick's frames are held for one write (see `send`). */
const HOLD_BYTES = 16 * 1024;

/**
 * `ws`'s Sender as engine.io (Socket.IO) reaches it to write frames it built once: `sendFrame`
 * writes the given buffers to the TCP socket as they are. Not in ws's types; checked at runtime.
 */
interface FrameSender {
  sendFrame(list: Buffer[], cb?: () => void): void;
}
type SenderOf = { _sender?: Partial<FrameSender> };

/**
 * A frame's WebSocket framing as a server sends it (unmasked, final text frame, RFC 6455 §5.2):
 * header and payload in one buffer, built on its first socket and kept on the frame, so every
 * other socket writes it as is. `ws.send` frames the payload again for every socket and writes
 * header and payload as two chunks (a `writev`); a commit's message reaches every socket of
 * its room, so with many small rooms that was most of a delivery's JavaScript.
 * Kept on the frame, not in a WeakMap (a weak entry per message is work for every GC; that
 * version measured slower).
 * @internal Exported for its test.
 */
export function wireFrameOf(frame: OutboundFrame): Buffer {
  if (frame.wire) return frame.wire as Buffer;
  // Encoded straight into the frame's buffer (not through `frame.bytes`: one copy less).
  const length = Buffer.byteLength(frame.text);
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const wire = Buffer.allocUnsafe(header + length);
  wire[0] = 0x81;
  if (length < 126) {
    wire[1] = length;
  } else if (length < 65536) {
    wire[1] = 126;
    wire.writeUInt16BE(length, 2);
  } else {
    wire[1] = 127;
    wire.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    wire.writeUInt32BE(length >>> 0, 6);
  }
  wire.write(frame.text, header);
  frame.wire = wire;
  return wire;
}

/** Where an attached socket's frames go: its room's host, or its inbox. */
interface SocketTarget {
  receive(connId: string, data: SocketData): unknown;
  leave(connId: string): void;
}

/** EventEmitter's own fields (Node's events.js: `_events` may be undefined until a first `on`). */
interface EmitterState {
  _events: object | undefined;
  _eventsCount: number;
}

/** An upgrade request's id, for its 101 (set on the request by `handleUpgrade`). */
const REQUEST_ID = Symbol("parley.requestId");
type TaggedRequest = IncomingMessage & { [REQUEST_ID]?: string };

/**
 * `ws`'s WebSocket, with the four events the gateway hears (`error`, `close`, `pong`,
 * `message`) handed straight to its connection instead of through EventEmitter listeners: four
 * listeners put a socket's `_events` in dictionary mode, ~0.3 KiB per idle socket (issue 17).
 * `ws` takes a subclass for this (the server's `WebSocket` option) and emits every event
 * through `emit`. Anything else goes to EventEmitter as before.
 */
class GatewayWebSocket extends WebSocket {
  /** Its connection, set as soon as `ws` hands the socket over. */
  connection: NodeWebSocketConnection | undefined = undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const conn = this.connection;
    switch (event) {
      case "error":
        // Heard for every socket, admitted or refused: only worth a debug line.
        if (conn) conn.gateway.socketError(conn, args[0] as Error);
        return true;
      case "close":
        if (conn?.identity) conn.gateway.socketClosed(conn, args[0] as number);
        return true;
      case "pong":
        // Only a pong proves the client reads: a socket that keeps uploading and never reads
        // must not count as alive (its answers pile up; the outbound cap and the heartbeat cut it).
        if (conn?.identity) conn.alive = true;
        return true;
      case "message":
        if (conn?.identity) conn.gateway.socketFrame(conn, args[0] as Buffer, args[1] as boolean);
        return true;
      case "ping":
        // The server's `autoPong` is off (see its options): answered here.
        if (conn) conn.gateway.socketPing(conn, args[0] as Buffer);
        return true;
      default:
        return super.emit(event, ...args);
    }
  }
}

/**
 * `ws` behind the room's Connection interface. It also holds what the gateway's listeners need
 * (identity, slot, target): those listeners are shared functions, not closures per socket, as
 * thousands of idle sockets each keeping their own closures and scopes is memory (issue 17).
 */
class NodeWebSocketConnection implements Connection, HeartbeatMember {
  readonly id = `ws-${++nextId}`;
  /** Heartbeat: cleared at each ping, set by a pong (only a pong proves the client reads). */
  alive = true;
  /** Its group of the heartbeat (heartbeat-slices.ts), set when it is admitted. */
  heartbeatSlot = 0;
  /** Set once admitted (a refused socket has none). */
  identity: ConnectionIdentity | undefined;
  /** Holds one of its user's connection slots (given back once, at close); set with `identity`. */
  holdsSlot = false;
  /** Set once attached; frames that arrive before are dropped, as the room is not there yet. */
  target: SocketTarget | undefined;
  /**
   * When it was admitted (whole ms of performance.now()), for the close's log line. An integer,
   * so V8 keeps it in the object (a fraction is a 16-byte heap number per socket).
   */
  opened = 0;
  constructor(
    readonly ws: GatewayWebSocket,
    /** The upgraded TCP socket: its `drain` says when queued frames reached the kernel. */
    private readonly socket: Duplex,
    readonly gateway: NodeWebSocketGateway,
    /**
     * Its upgrade request's id (a number when the relay made it: see socket-request-ids.ts),
     * and the route and conversation of its log lines.
     */
    readonly reqId: string | number,
    readonly route: string,
    public conversationId: string | undefined,
  ) {
    ws.connection = this;
    // EventEmitter gives every emitter an empty `_events` object in dictionary mode: ~190 B of
    // live heap per idle socket (heap snapshots, issue 17). The gateway's events never reach it
    // (see GatewayWebSocket's `emit`), and EventEmitter makes one again at a first `on`.
    if ((ws as unknown as EmitterState)._eventsCount === 0)
      (ws as unknown as EmitterState)._events = undefined;
    // Frames built once can be written as they are only when nothing transforms them: no
    // extension (permessage-deflate is off on this server), and ws exposes its Sender.
    const sender = (ws as unknown as SenderOf)._sender;
    this.#sender =
      ws.extensions === "" && typeof sender?.sendFrame === "function" ? (sender as FrameSender) : undefined;
  }

  /**
   * The fields of this socket's log lines, built when a line is logged: a fields object kept
   * per socket had a hidden class of its own on every socket (~0.3 KiB each; issue 17: memory
   * per idle socket).
   */
  logFields(): LogFields {
    const fields: LogFields = { reqId: requestIdText(this.reqId), route: this.route };
    if (this.identity) {
      fields.app = this.identity.app;
      fields.userId = this.identity.userId;
    }
    if (this.conversationId !== undefined) fields.conversationId = this.conversationId;
    return fields;
  }

  /** ws's Sender, when frames built once may be written through it (see `wireFrameOf`). */
  readonly #sender: FrameSender | undefined;

  /**
   * While set, the frames sent this tick are held for one write; the value is the socket's
   * queue (bytes the kernel had not taken) when holding began.
   */
  #heldFrom: number | undefined;

  send(frame: OutboundFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    // The frames a socket gets in one tick (a commit's messages, its ack) leave in one write:
    // each write is a syscall, and on the durable socket-send path they were a fifth of the
    // relay's CPU. Held until the next tick, or at once past HOLD_BYTES.
    this.#hold();
    // The same framed bytes for every socket; without the Sender, ws frames them again.
    if (this.#sender) this.#sender.sendFrame([wireFrameOf(frame)]);
    else this.ws.send(frame.bytes, { binary: false });
    if (this.#held() >= HOLD_BYTES) this.#release();
  }

  #hold(): void {
    if (this.#heldFrom !== undefined) return;
    this.#heldFrom = this.socket.writableLength;
    this.socket.cork();
    releaseNextTick(this);
  }

  /** @internal Writes what this tick held (at the next tick, or at once past HOLD_BYTES or on close). */
  release(): void {
    this.#release();
  }

  #release(): void {
    if (this.#heldFrom === undefined) return;
    this.#heldFrom = undefined;
    this.socket.uncork();
  }

  /** Bytes held this tick, not yet offered to the kernel. */
  #held(): number {
    return this.#heldFrom === undefined ? 0 : this.socket.writableLength - this.#heldFrom;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState >= WebSocket.CLOSING) return;
    this.gateway.metrics.closed(code, "websocket");
    // The held frames and then the close frame go now: a shutdown may destroy the socket
    // before the next tick, and destroying drops what is still held.
    this.#release();
    this.ws.close(code, closeReason(reason));
    // A peer that never answers the close handshake is cut after a while.
    setTimeout(() => this.ws.terminate(), this.gateway.limits.closeTimeoutMs).unref();
  }

  /**
   * What the kernel has not taken (the slow-consumer rule's measure): frames held for this
   * tick's write are not counted, as they were not when every frame was written at once.
   */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount - this.#held();
  }

  get closed(): boolean {
    return this.ws.readyState >= WebSocket.CLOSING;
  }

  /** One wait for the socket's next `drain`, shared by every caller until it comes. */
  #drained: Promise<void> | undefined;

  whenDrained(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.#drained ??= new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        this.#drained = undefined;
        resolve();
      };
      this.socket.once("drain", done);
      this.socket.once("close", done);
    });
    return this.#drained;
  }
}

/**
 * The sockets holding frames this tick, released together at the next one: a commit reaches
 * every socket of its rooms, and a callback per socket and tick was one more allocation and
 * queue entry per delivery.
 */
let holding: NodeWebSocketConnection[] = [];

function releaseNextTick(conn: NodeWebSocketConnection): void {
  if (holding.length === 0) process.nextTick(releaseHolding);
  holding.push(conn);
}

function releaseHolding(): void {
  const held = holding;
  holding = [];
  // Each on its own: a socket that fails here must not leave the others' frames held.
  for (const conn of held) {
    try {
      conn.release();
    } catch (error) {
      conn.gateway.socketError(conn, error as Error);
    }
  }
}

/**
 * A socket's attach settled: what it held (the 101 and its first frames) is written, and its
 * frames go to its room from now on.
 */
function attachedTo(conn: NodeWebSocketConnection, host: RoomHost | null, release: () => void): void {
  release();
  if (!host) return;
  conn.target = host;
  // The room's own string: this socket's copy from its URL is ~32 B per idle socket.
  conn.conversationId = host.conversationId;
}

/** A socket's heartbeat: one that did not answer the previous ping is dead (cut it); else ping it. */
function beat(conn: NodeWebSocketConnection): void {
  if (!conn.alive) {
    conn.ws.terminate();
    return;
  }
  conn.alive = false;
  conn.ws.ping();
}

/** A TCP socket's `error` listener: `this` is the socket. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

function rejectHttp(socket: Duplex, status: number, text: string, reqId: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nX-Request-Id: ${reqId}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
  );
}

/** The route pattern of a socket path, for the log (the path itself is not logged raw). */
const socketRoute = (path: string) =>
  path.startsWith("/parties/conversation/")
    ? "/parties/conversation/:id"
    : path.startsWith("/parties/inbox/")
      ? "/parties/inbox/:userId"
      : "(other)";

export class NodeWebSocketGateway {
  readonly wss: WebSocketServer;
  /** The admitted sockets, and their heartbeat: each visited once per interval, a group a tick. */
  readonly #connections: HeartbeatSlices<NodeWebSocketConnection>;
  /** What admission needs from this relay: built once, not per upgrade. */
  readonly #admission: AdmissionDeps;

  constructor(
    private readonly hub: RelayHub,
    auth: Authenticator,
    origins: OriginPolicy,
    readonly limits: Limits,
    private readonly log: Logger,
    /** Counts the relay's closes by code. */
    readonly metrics: RelayMetrics = noMetrics,
  ) {
    this.wss = new WebSocketServer({
      WebSocket: GatewayWebSocket,
      noServer: true,
      maxPayload: limits.maxFrameBytes,
      clientTracking: false,
      // ws's automatic pong keeps a callback closure and its context on every socket (~100 B
      // of live heap per idle socket, issue 17); `socketPing` answers instead.
      autoPong: false,
    });
    // Every 101 carries the request id too, as every HTTP answer does.
    this.wss.on("headers", (headers, req) => {
      const reqId = (req as TaggedRequest)[REQUEST_ID];
      if (reqId) headers.push(`X-Request-Id: ${reqId}`);
    });
    this.#admission = {
      auth,
      origins,
      membership: (app, id, userId) => hub.admission(app, id, userId),
      exhausted: (app, userId) => hub.budgets.exhausted(app, userId),
    };
    this.#connections = new HeartbeatSlices(limits.heartbeatMs, beat);
  }

  /** `server.on("upgrade", gateway.handleUpgrade)` */
  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Not a closure: one made here would share this function's scope and keep the upgrade
    // request (headers, the URL with its token) and `head` alive as long as the socket.
    socket.on("error", destroyOnError);
    const started = performance.now();
    const header = req.headers["x-request-id"];
    // The socket keeps this for its log lines as long as it is open: a number when the relay
    // makes the id, and a flat copy of a client's own (a header string may be a slice of a
    // larger one).
    const id =
      typeof header === "string" && isSaneRequestId(header)
        ? Buffer.from(header).toString()
        : nextSocketRequestId();
    const reqId = requestIdText(id);
    // On the request itself, for the 101's headers: a WeakMap entry per upgrade is an ephemeron
    // every GC has to walk while the storm's 10,000 upgrades are in flight.
    (req as TaggedRequest)[REQUEST_ID] = reqId;
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      rejectHttp(socket, 400, "Bad Request", reqId);
      this.log.info({ reqId, route: "(unparsable)", status: 400 }, "socket upgrade refused");
      return;
    }
    // Never the URL itself: its query string holds the token.
    const line = { reqId, route: socketRoute(url.pathname) };
    admitSocket({ url, origin: req.headers.origin, host: req.headers.host, upgrade: true }, this.#admission)
      .then((decision) => {
        const ms = Math.round(performance.now() - started);
        if (decision.kind === "http") {
          rejectHttp(socket, decision.status, decision.text, reqId);
          this.log.info({ ...line, status: decision.status, ms }, "socket upgrade refused");
        } else if (decision.kind === "refuse") {
          this.log.info({ ...line, status: 101, code: String(decision.code), ms }, "socket refused");
          this.#complete(req, socket, head, decision, id, line.route);
        } else {
          const { app, userId } = decision.user;
          const where =
            decision.kind === "conversation"
              ? { ...line, app, userId, conversationId: decision.conversationId }
              : { ...line, app, userId };
          this.log.info({ ...where, status: 101, ms }, "socket opened");
          this.#complete(req, socket, head, decision, id, line.route);
        }
      })
      // Nothing a client sends rejects admission; a store that cannot be read does. Never unhandled.
      .catch((error: unknown) => {
        this.log.error({ ...line, status: 500, err: error }, "socket upgrade failed");
        socket.destroy();
      });
  };

  #complete(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    decision: Exclude<SocketAdmission, { kind: "http" }>,
    reqId: string | number,
    route: string,
  ): void {
    // The 101 and the socket's first frames (replay, `synced`, presence) leave in one write: the
    // TCP socket is held from here until the socket is attached or refused. Every write is a
    // syscall, and in a reconnect storm nearly all the relay writes is handshakes and first frames.
    socket.cork();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      socket.uncork();
    };
    let handedOver = false;
    this.wss.handleUpgrade(req, socket, head, (upgraded) => {
      handedOver = true;
      // The server's `WebSocket` option: ws's types do not carry the subclass through.
      const ws = upgraded as GatewayWebSocket;
      const conversationId = decision.kind === "conversation" ? decision.conversationId : undefined;
      // Its events reach the gateway from here on (GatewayWebSocket); `close`, `pong` and
      // `message` only once it is admitted (`identity` set below).
      const conn = new NodeWebSocketConnection(ws, socket, this, reqId, route, conversationId);
      if (decision.kind === "refuse") {
        conn.close(decision.code, decision.reason);
        release();
        return;
      }
      const { user, instanceId } = decision;
      // At the cap, a reconnect of a client instance whose old socket is still open here comes
      // in: it replaces that socket (4009), so the user's count does not grow.
      const replaces = () =>
        instanceId !== undefined && this.hub.holdsInstance(user.app, user.userId, conversationId, instanceId);
      if (!this.hub.tryAcquireConnection(user.app, user.userId, "websocket", replaces)) {
        conn.close(CloseCode.tooSlowOrFast, "too many open connections for this user");
        release();
        return;
      }
      this.#connections.add(conn);
      const identity = { app: user.app, userId: user.userId, instanceId };
      conn.identity = identity;
      conn.holdsSlot = true;
      conn.opened = Math.floor(performance.now());
      if (decision.kind === "conversation") {
        // #attachToRoom never rejects: it closes the socket itself when it cannot attach.
        const attached = this.#attachToRoom(conn, identity, decision.conversationId, decision.after);
        if (attached instanceof Promise) void attached.then((host) => attachedTo(conn, host, release));
        else attachedTo(conn, attached, release);
      } else {
        const inbox = this.hub.openInbox(decision.owner, conn, identity);
        release();
        if (inbox) conn.target = inbox;
      }
    });
    // `ws` answered the upgrade itself (an error status) or will call back later: hold nothing.
    if (!handedOver) release();
  }

  /** @internal An admitted socket closed (its shared `close` listener). */
  socketClosed(conn: NodeWebSocketConnection, code: number): void {
    this.log.debug(
      { ...conn.logFields(), code: String(code), ms: Math.round(performance.now() - conn.opened) },
      "socket closed",
    );
    this.#connections.delete(conn);
    if (conn.holdsSlot && conn.identity) {
      conn.holdsSlot = false;
      this.hub.releaseConnection(conn.identity.app, conn.identity.userId, "websocket");
    }
    conn.target?.leave(conn.id);
  }

  /** @internal A frame from an admitted socket (its shared `message` listener). */
  socketFrame(conn: NodeWebSocketConnection, data: Buffer, isBinary: boolean): void {
    const identity = conn.identity;
    if (!identity) return;
    // Charged to the user before the bytes are even decoded: over budget, refusing is a
    // length check.
    if (!this.hub.budgets.charge(identity.app, identity.userId, data.byteLength)) {
      conn.close(CloseCode.tooSlowOrFast, "too many bytes; slow down and reconnect");
      return;
    }
    void conn.target?.receive(conn.id, isBinary ? data : String(data));
  }

  /**
   * @internal A client's ping (RFC 6455 §5.5.2: answered with a pong of the same data). Its
   * pongs count toward the outbound cap like any frame: a client that pings and never reads is
   * cut (1006, no close frame: the close frame would queue behind what it does not read), as
   * ws's own automatic pong cuts one with too many pongs pending.
   */
  socketPing(conn: NodeWebSocketConnection, data: Buffer): void {
    const ws = conn.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.limits.socketBufferBytes) {
      ws.terminate();
      return;
    }
    ws.pong(data, false);
  }

  /** @internal A socket's error (its shared `error` listener): only worth a debug line. */
  socketError(conn: NodeWebSocketConnection, error: Error): void {
    this.log.debug({ ...conn.logFields(), err: error }, "socket error");
  }

  /**
   * Attaches an admitted socket to its room; null (and the socket closed) when it cannot. At
   * once when the room is loaded (nearly every socket of a reconnect storm), else after the load.
   */
  #attachToRoom(
    conn: NodeWebSocketConnection,
    identity: ConnectionIdentity,
    conversationId: string,
    after: number | undefined,
  ): RoomHost | null | Promise<RoomHost | null> {
    try {
      const loaded = this.hub.loadedHost(identity.app, conversationId);
      if (loaded?.connectLoaded(conn, identity, after)) return loaded;
    } catch (error) {
      this.#attachFailed(conn, error);
      return null;
    }
    return this.#attachAfterLoad(conn, identity, conversationId, after);
  }

  async #attachAfterLoad(
    conn: NodeWebSocketConnection,
    identity: ConnectionIdentity,
    conversationId: string,
    after: number | undefined,
  ): Promise<RoomHost | null> {
    try {
      const host = await this.hub.host(identity.app, conversationId);
      await host.connect(conn, identity, after);
      return host;
    } catch (error) {
      this.#attachFailed(conn, error);
      return null;
    }
  }

  /** Closes a socket that could not attach, with the contract's code for why. */
  #attachFailed(conn: NodeWebSocketConnection, error: unknown): void {
    if (isParleyError(error) && error.code === "shutting_down") {
      conn.close(CloseCode.goingAway, "the relay is shutting down");
    } else if (isParleyError(error) && error.code === "not_found") {
      conn.close(CloseCode.notFound, "no such conversation");
    } else {
      this.log.error({ ...conn.logFields(), err: error }, "attaching a socket to its room failed");
      conn.close(CloseCode.internal, "the relay could not attach this socket; reconnect");
    }
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Stops heartbeats and closes whatever sockets the actors did not (1001). */
  close(): void {
    this.#connections.stop();
    for (const conn of [...this.#connections]) conn.close(CloseCode.goingAway, "the relay is shutting down");
    this.wss.close();
  }
}
