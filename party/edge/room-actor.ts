/**
 * A conversation room inside a workerd actor (a Durable Object via partyserver, or a PartyKit
 * party): the shared RoomHost, with the actor's sockets as Connections. The two runtimes' shells
 * only route their callbacks here, so both behave the same: the same room, rebuilt from libSQL
 * on wake, hibernation-safe socket state, SSE, and one RPC entry point for the HTTP API.
 */
import type { ConnectionIdentity, SocketData } from "../core/connection.ts";
import type { InboxRouter } from "../core/conversation-room.ts";
import { randomId } from "../core/ids.ts";
import { identityOf, resumePointOf } from "../host/forwarded-identity.ts";
import { RoomHost } from "../host/room-host.ts";
import type { WireResult } from "../host/wire-errors.ts";
import { type EdgeConfig, splitName } from "./config.ts";
import { EdgeSocket, type EdgeWebSocket, keptSockets } from "./edge-socket.ts";

export class RoomActor {
  #host: RoomHost | undefined;

  constructor(
    /** The actor's name: `app:conversationId`. */
    private readonly name: string,
    private readonly config: () => EdgeConfig,
    /** Where thread-list changes go: the members' inbox actors. */
    private readonly inbox: InboxRouter,
  ) {}

  /** The host, made on first use (the configuration is read from the actor's variables). */
  get host(): RoomHost {
    if (!this.#host) {
      const { app, key } = splitName(this.name);
      const { store, limits } = this.config();
      this.#host = new RoomHost(app, key, {
        store,
        limits,
        inbox: this.inbox,
        onError: (error, context) => console.error(`parley: ${context}`, error),
        now: Date.now,
        defer: (fn) => setTimeout(fn, 0),
        newMessageId: () => randomId("m_"),
      });
    }
    return this.#host;
  }

  /** After a wake: sockets kept through hibernation are live again (no replay: they had everything). */
  async start(kept: Iterable<EdgeWebSocket>): Promise<void> {
    await this.host.adopt(keptSockets(kept));
    const room = this.host.room;
    // One line per (re)start: after hibernation it shows the sockets that were kept.
    if (room)
      console.log(
        `parley: room ${this.name} started at seq ${room.lastSeq} with ${this.host.connections} kept sockets`,
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
    await this.host.connect(new EdgeSocket(ws), identity, resumePointOf(request));
  }

  message(ws: EdgeWebSocket, data: SocketData): Promise<void> {
    return this.host.receive(ws.id, data);
  }

  forget(ws: EdgeWebSocket): void {
    this.host.leave(ws.id);
  }

  /** An SSE subscriber, forwarded by the front door with the verified identity. */
  events(request: Request): Promise<Response> {
    return this.host.events(identityOf(request.headers), resumePointOf(request), request.signal);
  }

  /** RPC from the HTTP API; refusals travel as data. */
  call(method: string, args: unknown[]): Promise<WireResult<unknown>> {
    return this.host.call(method, args);
  }
}
