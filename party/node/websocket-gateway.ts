/**
 * WebSockets on Node with `ws`: `/parties/conversation/<id>` and `/parties/inbox/<userId>`.
 * Credentials and membership are checked before the upgrade completes, so by the time a client
 * sees `open` its connection is registered and no frame can be missed; refusals still complete
 * the upgrade and close with the contract's code, which browsers can read (an HTTP status they
 * cannot).
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import type { Authenticator, UserPrincipal } from "../../api/auth.ts";
import { type OriginPolicy, originAllowed } from "../../api/origins.ts";
import type { Connection } from "../core/connection.ts";
import type { ConversationRoom } from "../core/conversation-room.ts";
import { CloseCode, isParleyError } from "../core/errors.ts";
import type { RelayHub } from "../core/hub.ts";
import type { Limits } from "../core/limits.ts";
import { frames, type OutboundFrame } from "../core/outbound-frame.ts";
import { conversationIdSchema, userIdSchema } from "../core/validation.ts";
import type { Logger } from "./logger.ts";

let nextId = 0;

/** `ws` behind the room's Connection interface. */
class NodeWebSocketConnection implements Connection {
  readonly id = `ws-${++nextId}`;
  /** Heartbeat: cleared at each ping, set by any pong or frame. */
  alive = true;
  constructor(readonly ws: WebSocket) {}

  send(frame: OutboundFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    // The same bytes for every socket: ws frames them without re-encoding the text.
    this.ws.send(frame.bytes, { binary: false });
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState >= WebSocket.CLOSING) return;
    this.ws.close(code, reason.slice(0, 120));
    // A peer that never answers the close handshake is cut after 5 s.
    setTimeout(() => this.ws.terminate(), 5_000).unref();
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get closed(): boolean {
    return this.ws.readyState >= WebSocket.CLOSING;
  }
}

/** A party path. `valid` is false for a name no conversation or user can have. */
type Route =
  | { kind: "conversation"; id: string; valid: boolean }
  | { kind: "inbox"; userId: string; valid: boolean };

/**
 * `/parties/conversation/<id>` or `/parties/inbox/<userId>`; null for any other path. A name
 * that cannot be an id still routes: the socket is refused with the contract's close code
 * (4004, 4003), which a browser can read, instead of an HTTP status, which it cannot.
 */
function routeOf(pathname: string): Route | null {
  const match = pathname.match(/^\/parties\/(conversation|inbox)\/([^/]+)\/?$/);
  if (!match?.[2]) return null;
  let name = match[2];
  let decoded = true;
  try {
    name = decodeURIComponent(name);
  } catch {
    decoded = false;
  }
  if (match[1] === "conversation") {
    return { kind: "conversation", id: name, valid: decoded && conversationIdSchema.safeParse(name).success };
  }
  return { kind: "inbox", userId: name, valid: decoded && userIdSchema.safeParse(name).success };
}

function rejectHttp(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** What the upgrade decided: attach to an actor, or close at once with a code. */
type Decision =
  | { kind: "conversation"; room: ConversationRoom; user: UserPrincipal; after: number | undefined }
  | { kind: "inbox"; user: UserPrincipal; owner: string }
  | { kind: "refuse"; code: number; reason: string };

export class NodeWebSocketGateway {
  readonly wss: WebSocketServer;
  #heartbeat: NodeJS.Timeout;
  #connections = new Set<NodeWebSocketConnection>();

  constructor(
    private readonly hub: RelayHub,
    private readonly auth: Authenticator,
    private readonly origins: OriginPolicy,
    limits: Limits,
    private readonly log: Logger,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxFrameBytes,
      clientTracking: false,
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
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = routeOf(url.pathname);
    if (!route) {
      rejectHttp(socket, 404, "Not Found");
      return;
    }
    if (!originAllowed(req.headers.origin, this.origins, req.headers.host)) {
      rejectHttp(socket, 403, "Forbidden");
      return;
    }
    this.#decide(route, url.searchParams).then(
      (decision) => this.#complete(req, socket, head, decision, url.searchParams.get("_pk") ?? undefined),
      (error) => {
        this.log.error("websocket upgrade failed", error);
        socket.destroy();
      },
    );
  };

  async #decide(route: Route, query: URLSearchParams): Promise<Decision> {
    const token = query.get("token");
    if (!token)
      return { kind: "refuse", code: CloseCode.unauthorized, reason: "missing token query parameter" };
    let user: UserPrincipal;
    try {
      user = await this.auth.verifyUserToken(token);
    } catch (error) {
      return {
        kind: "refuse",
        code: CloseCode.unauthorized,
        reason: isParleyError(error) ? error.message : "bad token",
      };
    }
    // A user id that is not valid is nobody's: the owner check refuses it (4003).
    if (route.kind === "inbox") return { kind: "inbox", user, owner: route.userId };
    if (!route.valid) return { kind: "refuse", code: CloseCode.notFound, reason: "no such conversation" };
    const rawAfter = query.get("after");
    if (rawAfter !== null && rawAfter !== "" && !/^\d{1,15}$/.test(rawAfter)) {
      return { kind: "refuse", code: 1008, reason: "after must be a non-negative integer" };
    }
    try {
      const room = await this.hub.room(user.app, route.id);
      if (!room.isMember(user.userId)) {
        return { kind: "refuse", code: CloseCode.forbidden, reason: "not a member of this conversation" };
      }
      return { kind: "conversation", room, user, after: rawAfter ? Number(rawAfter) : undefined };
    } catch (error) {
      if (isParleyError(error) && error.code === "not_found") {
        return { kind: "refuse", code: CloseCode.notFound, reason: "no such conversation" };
      }
      if (isParleyError(error) && error.code === "shutting_down") {
        return { kind: "refuse", code: CloseCode.goingAway, reason: "the relay is shutting down" };
      }
      throw error;
    }
  }

  #complete(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    decision: Decision,
    instanceId?: string,
  ): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new NodeWebSocketConnection(ws);
      ws.on("error", (error) => this.log.debug(`socket ${conn.id}: ${error.message}`));
      if (decision.kind === "refuse") {
        conn.close(decision.code, decision.reason);
        return;
      }
      const releaseSlot = this.hub.acquireConnection(decision.user.app, decision.user.userId);
      if (!releaseSlot) {
        conn.close(CloseCode.tooSlowOrFast, "too many open connections for this user");
        return;
      }
      this.#connections.add(conn);
      let onText: (text: string) => void = () => {};
      let onClose: () => void = () => {};
      ws.on("close", () => {
        this.#connections.delete(conn);
        releaseSlot();
        onClose();
      });
      ws.on("pong", () => {
        conn.alive = true;
      });
      ws.on("message", (data, isBinary) => {
        conn.alive = true;
        if (isBinary) {
          conn.send(frames.error("bad_frame", "binary frames are not supported; send JSON text"));
          return;
        }
        onText(String(data));
      });
      const identity = { app: decision.user.app, userId: decision.user.userId, instanceId };
      if (decision.kind === "conversation") {
        const { room } = decision;
        const peer = room.connect(conn, identity, decision.after);
        if (!peer) return;
        onText = (text) => void room.receive(peer, text);
        onClose = () => room.leave(peer);
      } else {
        const inbox = this.hub.inbox(decision.user.app, decision.owner);
        const peer = inbox.connect(conn, identity);
        if (!peer) return;
        onText = (text) => inbox.receive(peer, text);
        onClose = () => inbox.leave(peer);
      }
    });
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
