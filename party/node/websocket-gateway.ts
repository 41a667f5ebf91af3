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
import type { Connection } from "../core/connection.ts";
import { CloseCode, isParleyError } from "../core/errors.ts";
import type { Limits } from "../core/limits.ts";
import { type LogFields, type Logger, requestIdOf } from "../core/log.ts";
import { noMetrics, type RelayMetrics } from "../core/metrics.ts";
import type { OutboundFrame } from "../core/outbound-frame.ts";
import { admitSocket, type SocketAdmission } from "../host/admission.ts";
import type { Authenticator } from "../host/auth.ts";
import { closeReason } from "../host/close-reason.ts";
import type { RelayHub } from "../host/local-directory.ts";
import type { OriginPolicy } from "../host/origins.ts";

let nextId = 0;

/** At most this many bytes of one tick's frames are held for one write (see `send`). */
const HOLD_BYTES = 16 * 1024;

/** `ws` behind the room's Connection interface. */
class NodeWebSocketConnection implements Connection {
  readonly id = `ws-${++nextId}`;
  /** Heartbeat: cleared at each ping, set by any pong or frame. */
  alive = true;
  constructor(
    readonly ws: WebSocket,
    /** The upgraded TCP socket: its `drain` says when queued frames reached the kernel. */
    private readonly socket: Duplex,
    private readonly closeTimeoutMs: number,
    private readonly metrics: RelayMetrics,
  ) {}

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
    // The same bytes for every socket: ws frames them without re-encoding the text.
    this.ws.send(frame.bytes, { binary: false });
    if (this.#held() >= HOLD_BYTES) this.#release();
  }

  #hold(): void {
    if (this.#heldFrom !== undefined) return;
    this.#heldFrom = this.socket.writableLength;
    this.socket.cork();
    process.nextTick(() => this.#release());
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
    this.metrics.closed(code, "websocket");
    // The held frames and then the close frame go now: a shutdown may destroy the socket
    // before the next tick, and destroying drops what is still held.
    this.#release();
    this.ws.close(code, closeReason(reason));
    // A peer that never answers the close handshake is cut after a while.
    setTimeout(() => this.ws.terminate(), this.closeTimeoutMs).unref();
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
  #heartbeat: NodeJS.Timeout;
  #connections = new Set<NodeWebSocketConnection>();
  #requestIds = new WeakMap<IncomingMessage, string>();

  constructor(
    private readonly hub: RelayHub,
    private readonly auth: Authenticator,
    private readonly origins: OriginPolicy,
    private readonly limits: Limits,
    private readonly log: Logger,
    /** Counts the relay's closes by code. */
    private readonly metrics: RelayMetrics = noMetrics,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxFrameBytes,
      clientTracking: false,
    });
    // Every 101 carries the request id too, as every HTTP answer does.
    this.wss.on("headers", (headers, req) => {
      const reqId = this.#requestIds.get(req);
      if (reqId) headers.push(`X-Request-Id: ${reqId}`);
    });
    this.#heartbeat = setInterval(() => this.#beat(), limits.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Pings every socket; one that did not answer the previous ping is dead: cut it. */
  #beat(): void {
    for (const conn of this.#connections) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  /** `server.on("upgrade", gateway.handleUpgrade)` */
  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    const started = performance.now();
    const header = req.headers["x-request-id"];
    const reqId = requestIdOf(typeof header === "string" ? header : undefined);
    this.#requestIds.set(req, reqId);
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
    admitSocket(
      { url, origin: req.headers.origin, host: req.headers.host, upgrade: true },
      {
        auth: this.auth,
        origins: this.origins,
        membership: (app, id, userId) => this.hub.admission(app, id, userId),
        exhausted: (app, userId) => this.hub.budgets.exhausted(app, userId),
      },
    )
      .then((decision) => {
        const ms = Math.round(performance.now() - started);
        if (decision.kind === "http") {
          rejectHttp(socket, decision.status, decision.text, reqId);
          this.log.info({ ...line, status: decision.status, ms }, "socket upgrade refused");
        } else if (decision.kind === "refuse") {
          this.log.info({ ...line, status: 101, code: String(decision.code), ms }, "socket refused");
          this.#complete(req, socket, head, decision, line);
        } else {
          const { app, userId } = decision.user;
          const where =
            decision.kind === "conversation"
              ? { ...line, app, userId, conversationId: decision.conversationId }
              : { ...line, app, userId };
          this.log.info({ ...where, status: 101, ms }, "socket opened");
          this.#complete(req, socket, head, decision, where);
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
    where: LogFields,
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
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      handedOver = true;
      const conn = new NodeWebSocketConnection(ws, socket, this.limits.closeTimeoutMs, this.metrics);
      ws.on("error", (error) => this.log.debug({ ...where, err: error }, "socket error"));
      if (decision.kind === "refuse") {
        conn.close(decision.code, decision.reason);
        release();
        return;
      }
      const { user, instanceId } = decision;
      const releaseSlot = this.hub.acquireConnection(user.app, user.userId);
      if (!releaseSlot) {
        conn.close(CloseCode.tooSlowOrFast, "too many open connections for this user");
        release();
        return;
      }
      this.#connections.add(conn);
      const identity = { app: user.app, userId: user.userId, instanceId };
      let onData: (data: string | Buffer) => void = () => {};
      let onClose: () => void = () => {};
      const opened = performance.now();
      ws.on("close", (code) => {
        this.log.debug(
          { ...where, code: String(code), ms: Math.round(performance.now() - opened) },
          "socket closed",
        );
        this.#connections.delete(conn);
        releaseSlot();
        onClose();
      });
      ws.on("pong", () => {
        conn.alive = true;
      });
      // Only a pong proves the client reads: a socket that keeps uploading and never reads
      // must not count as alive (its answers pile up; the outbound cap and this cut it).
      ws.on("message", (data, isBinary) => {
        const bytes = (data as Buffer).byteLength;
        // Charged to the user before the bytes are even decoded: over budget, refusing is a
        // length check.
        if (!this.hub.budgets.charge(user.app, user.userId, bytes)) {
          conn.close(CloseCode.tooSlowOrFast, "too many bytes; slow down and reconnect");
          return;
        }
        onData(isBinary ? (data as Buffer) : String(data));
      });
      if (decision.kind === "conversation") {
        // #attachToRoom never rejects: it closes the socket itself when it cannot attach.
        void this.#attachToRoom(conn, identity, decision.conversationId, decision.after, where).then(
          (host) => {
            release();
            if (!host) return;
            onData = (data) => void host.receive(conn.id, data);
            onClose = () => host.leave(conn.id);
          },
        );
      } else {
        const inbox = this.hub.openInbox(decision.owner, conn, identity);
        release();
        if (!inbox) return;
        onData = (data) => inbox.receive(conn.id, data);
        onClose = () => inbox.leave(conn.id);
      }
    });
    // `ws` answered the upgrade itself (an error status) or will call back later: hold nothing.
    if (!handedOver) release();
  }

  /** Attaches an admitted socket to its room; null (and the socket closed) when it cannot. */
  async #attachToRoom(
    conn: NodeWebSocketConnection,
    identity: { app: string; userId: string; instanceId: string | undefined },
    conversationId: string,
    after: number | undefined,
    where: LogFields,
  ) {
    try {
      const host = await this.hub.host(identity.app, conversationId);
      await host.connect(conn, identity, after);
      return host;
    } catch (error) {
      if (isParleyError(error) && error.code === "shutting_down") {
        conn.close(CloseCode.goingAway, "the relay is shutting down");
      } else if (isParleyError(error) && error.code === "not_found") {
        conn.close(CloseCode.notFound, "no such conversation");
      } else {
        this.log.error({ ...where, err: error }, "attaching a socket to its room failed");
        conn.close(CloseCode.internal, "the relay could not attach this socket; reconnect");
      }
      return null;
    }
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Stops heartbeats and closes whatever sockets the actors did not (1001). */
  close(): void {
    clearInterval(this.#heartbeat);
    for (const conn of this.#connections) conn.close(CloseCode.goingAway, "the relay is shutting down");
    this.wss.close();
  }
}
