/**
 * The inbox actor of one user: their live thread list across all conversations. Rooms push a
 * `thread` frame here whenever one of the user's conversations changes. The same class serves
 * every runtime: Node keeps one per listening user, an edge inbox actor is one.
 */
import type { Connection, ConnectionIdentity, SocketData } from "./connection.ts";
import { CloseCode } from "./errors.ts";
import { InboundBudget, inboundSize, sendBounded } from "./flow-control.ts";
import type { Limits } from "./limits.ts";
import { noMetrics, type RelayMetrics } from "./metrics.ts";
import { frames, type OutboundFrame } from "./outbound-frame.ts";
import { parseClientFrame } from "./room-socket-frames.ts";

interface InboxPeer {
  readonly conn: Connection;
  readonly identity: ConnectionIdentity;
  /** Frames and bytes this socket may send (4008 past either). */
  readonly inbound: InboundBudget;
}

export class InboxRoom {
  /** Open inbox sockets by connection id. */
  #peers = new Map<string, InboxPeer>();

  constructor(
    readonly app: string,
    readonly userId: string,
    private readonly limits: Limits,
    private readonly now: () => number,
    /** Counts this inbox's sockets' refusals (none: not counted). */
    private readonly metrics: RelayMetrics = noMetrics,
  ) {}

  /** True while at least one inbox socket is open: only then are thread items worth building. */
  get listening(): boolean {
    return this.#peers.size > 0;
  }

  /**
   * Adds a verified connection; only the inbox's owner may open it (else 4003). A newer socket
   * of the same client instance (`_pk`) replaces the older one (4009). False when refused.
   */
  connect(conn: Connection, identity: ConnectionIdentity): boolean {
    if (!this.#isOwner(conn, identity)) return false;
    if (identity.instanceId !== undefined) {
      for (const [id, other] of this.#peers) {
        if (other.identity.instanceId === identity.instanceId)
          this.#disconnect(id, CloseCode.replaced, "replaced by a newer connection of this client");
      }
    }
    this.#add(conn, identity);
    return true;
  }

  /** Whether a socket of this client instance (`_pk`) is open here (a newer one replaces it). */
  holdsInstance(instanceId: string): boolean {
    for (const peer of this.#peers.values()) if (peer.identity.instanceId === instanceId) return true;
    return false;
  }

  /** Re-attaches a socket that stayed open while the actor slept (hibernation). */
  adopt(conn: Connection, identity: ConnectionIdentity): void {
    if (this.#peers.has(conn.id) || !this.#isOwner(conn, identity)) return;
    this.#add(conn, identity);
  }

  #isOwner(conn: Connection, identity: ConnectionIdentity): boolean {
    if (identity.app === this.app && identity.userId === this.userId) return true;
    conn.close(CloseCode.forbidden, "you may open only your own inbox");
    return false;
  }

  #add(conn: Connection, identity: ConnectionIdentity): void {
    this.#peers.set(conn.id, {
      conn,
      identity,
      inbound: new InboundBudget(this.limits, this.now(), this.metrics),
    });
  }

  /** The connection closed, whichever side closed it. */
  leave(connId: string): void {
    this.#peers.delete(connId);
  }

  #disconnect(connId: string, code: number, reason: string): void {
    const peer = this.#peers.get(connId);
    if (!peer) return;
    this.#peers.delete(connId);
    peer.conn.close(code, reason);
  }

  /** The inbox socket only answers pings; anything else is a bad frame. A flood is closed with 4008. */
  receive(connId: string, data: SocketData): void {
    const peer = this.#peers.get(connId);
    if (!peer) return;
    const over = peer.inbound.charge(inboundSize(data), this.now());
    if (over) {
      this.#disconnect(connId, CloseCode.tooSlowOrFast, over);
      return;
    }
    if (typeof data !== "string") {
      this.#send(connId, peer, frames.error("bad_frame", "binary frames are not supported; send JSON text"));
      return;
    }
    const frame = parseClientFrame(data);
    if ("error" in frame) this.#send(connId, peer, frames.error("bad_frame", frame.error));
    else if (frame.type === "ping") this.#send(connId, peer, frames.pong());
    else this.#send(connId, peer, frames.error("bad_frame", "the inbox socket accepts only ping frames"));
  }

  /** Every frame to an inbox socket stays within its outbound cap (4008 past it). */
  #send(connId: string, peer: InboxPeer, frame: OutboundFrame): void {
    if (!sendBounded(peer.conn, frame, this.limits.socketBufferBytes)) this.#peers.delete(connId);
  }

  /** One of the user's threads changed: the same encoded frame to every open inbox socket. */
  deliver(frame: OutboundFrame): void {
    for (const [id, peer] of this.#peers) this.#send(id, peer, frame);
  }

  close(code: number, reason: string): void {
    for (const id of [...this.#peers.keys()]) this.#disconnect(id, code, reason);
  }
}
