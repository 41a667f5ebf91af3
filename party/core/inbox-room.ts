/**
 * The inbox actor of one user: their live thread list across all conversations. Rooms push a
 * `thread` frame here whenever one of the user's conversations changes. The same class serves
 * every runtime: Node keeps one per listening user, an edge inbox actor is one.
 */
import type { Connection, ConnectionIdentity, SocketData } from "./connection.ts";
import { CloseCode } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { frames } from "./outbound-frame.ts";
import { parseClientFrame } from "./room-socket-frames.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { ThreadItem } from "./types.ts";

interface InboxPeer {
  readonly conn: Connection;
  readonly identity: ConnectionIdentity;
  readonly frameBucket: TokenBucket;
}

export class InboxRoom {
  /** Open inbox sockets by connection id. */
  #peers = new Map<string, InboxPeer>();

  constructor(
    readonly app: string,
    readonly userId: string,
    private readonly limits: Limits,
    private readonly now: () => number,
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
    const frameBucket = new TokenBucket(this.limits.frameRate, this.limits.frameBurst, this.now());
    this.#peers.set(conn.id, { conn, identity, frameBucket });
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
    if (peer.frameBucket.take(this.now()) > 0) {
      this.#disconnect(connId, CloseCode.tooSlowOrFast, "too many frames; slow down and reconnect");
      return;
    }
    if (typeof data !== "string") {
      peer.conn.send(frames.error("bad_frame", "binary frames are not supported; send JSON text"));
      return;
    }
    const frame = parseClientFrame(data);
    if ("error" in frame) peer.conn.send(frames.error("bad_frame", frame.error));
    else if (frame.type === "ping") peer.conn.send(frames.pong());
    else peer.conn.send(frames.error("bad_frame", "the inbox socket accepts only ping frames"));
  }

  /** One of the user's threads changed: one frame, encoded once, to every open inbox socket. */
  deliver(item: ThreadItem): void {
    if (this.#peers.size === 0) return;
    const frame = frames.thread(item);
    for (const [id, peer] of this.#peers) {
      if (peer.conn.bufferedAmount > this.limits.socketBufferBytes) {
        this.#disconnect(id, CloseCode.tooSlowOrFast, "too slow: outbound buffer full");
        continue;
      }
      peer.conn.send(frame);
    }
  }

  close(code: number, reason: string): void {
    for (const id of [...this.#peers.keys()]) this.#disconnect(id, code, reason);
  }
}
