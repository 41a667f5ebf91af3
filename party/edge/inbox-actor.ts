/**
 * A user's inbox inside a workerd actor: the shared InboxRoom (the same class Node uses, with
 * its frame budget and 4008 for a flooding socket), with the actor's sockets as Connections.
 */
import type { ConnectionIdentity, SocketData } from "../core/connection.ts";
import { InboxRoom } from "../core/inbox-room.ts";
import { OutboundFrame } from "../core/outbound-frame.ts";
import { identityOf } from "../host/forwarded-identity.ts";
import { type EdgeConfig, splitName } from "./config.ts";
import { EdgeSocket, type EdgeWebSocket, keptSockets } from "./edge-socket.ts";

export class InboxActor {
  #inbox: InboxRoom | undefined;

  constructor(
    /** The actor's name: `app:userId`. */
    private readonly name: string,
    private readonly config: () => EdgeConfig,
  ) {}

  get #room(): InboxRoom {
    if (!this.#inbox) {
      const { app, key } = splitName(this.name);
      this.#inbox = new InboxRoom(app, key, this.config().limits, Date.now);
    }
    return this.#inbox;
  }

  /** After a wake: sockets kept through hibernation listen again. */
  start(kept: Iterable<EdgeWebSocket>): void {
    for (const { conn, identity } of keptSockets(kept)) this.#room.adopt(conn, identity);
  }

  /** A new inbox socket, already admitted (the owner's own) by the front door. */
  connect(ws: EdgeWebSocket, request: Request, remember: (identity: ConnectionIdentity) => void): void {
    const identity = identityOf(request.headers);
    remember(identity);
    this.#room.connect(new EdgeSocket(ws), identity);
  }

  message(ws: EdgeWebSocket, data: SocketData): void {
    this.#room.receive(ws.id, data);
  }

  forget(ws: EdgeWebSocket): void {
    this.#room.leave(ws.id);
  }

  /** One thread changed: its encoded `thread` frame, for every open inbox socket. */
  deliver(frameText: string): void {
    this.#room.deliver(new OutboundFrame(frameText));
  }
}
