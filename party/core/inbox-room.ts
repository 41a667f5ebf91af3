/**
 * The inbox actor of one user: their live thread list across all conversations. Rooms push a
 * `thread` frame here whenever one of the user's conversations changes.
 */
import type { Connection, ConnectionIdentity } from "./connection.ts";
import { CloseCode } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { frames } from "./outbound-frame.ts";
import { parseClientFrame } from "./room-socket-frames.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { ThreadItem } from "./types.ts";

export interface InboxPeer {
  readonly conn: Connection;
  readonly identity: ConnectionIdentity;
  readonly frameBucket: TokenBucket;
}

export class InboxRoom {
  #peers = new Set<InboxPeer>();

  constructor(
    readonly app: string,
    readonly userId: string,
    private readonly limits: Limits,
    private readonly now: () => number,
  ) {}

  get listening(): boolean {
    return this.#peers.size > 0;
  }

  /** Adds a verified connection; only the inbox's owner may open it (else 4003). */
  connect(conn: Connection, identity: ConnectionIdentity): InboxPeer | null {
    if (identity.app !== this.app || identity.userId !== this.userId) {
      conn.close(CloseCode.forbidden, "you may open only your own inbox");
      return null;
    }
    if (identity.instanceId !== undefined) {
      for (const other of this.#peers) {
        if (other.identity.instanceId === identity.instanceId) {
          this.leave(other);
          other.conn.close(CloseCode.replaced, "replaced by a newer connection of this client");
        }
      }
    }
    const peer: InboxPeer = {
      conn,
      identity,
      frameBucket: new TokenBucket(this.limits.frameRate, this.limits.frameBurst, this.now()),
    };
    this.#peers.add(peer);
    return peer;
  }

  leave(peer: InboxPeer): void {
    this.#peers.delete(peer);
  }

  /** The inbox socket only answers pings; anything else is a bad frame. */
  receive(peer: InboxPeer, text: string): void {
    if (peer.frameBucket.take(this.now()) > 0) {
      this.leave(peer);
      peer.conn.close(CloseCode.tooSlowOrFast, "too many frames; slow down and reconnect");
      return;
    }
    const frame = parseClientFrame(text);
    if ("error" in frame) peer.conn.send(frames.error("bad_frame", frame.error));
    else if (frame.type === "ping") peer.conn.send(frames.pong());
    else peer.conn.send(frames.error("bad_frame", "the inbox socket accepts only ping frames"));
  }

  deliver(item: ThreadItem): void {
    const frame = frames.thread(item);
    for (const peer of this.#peers) {
      if (peer.conn.bufferedAmount > this.limits.socketBufferBytes) {
        this.leave(peer);
        peer.conn.close(CloseCode.tooSlowOrFast, "too slow: outbound buffer full");
        continue;
      }
      peer.conn.send(frame);
    }
  }

  close(code: number, reason: string): void {
    for (const peer of [...this.#peers]) {
      this.leave(peer);
      peer.conn.close(code, reason);
    }
  }
}
