/**
 * A room's connections and what goes out to them: a new connection first replays the log after
 * its `after` (from the window, then from the store, page by page, waiting for its buffer to
 * drain), then gets `synced`, then live frames. Live frames are encoded once and written to
 * every live connection; one whose outbound buffer is over the cap is closed with 4008 (it
 * resumes), so a slow socket never slows the room.
 */
import type { Connection, ConnectionIdentity } from "../connection.ts";
import { CloseCode } from "../errors.ts";
import { InboundBudget, sendBounded } from "../flow-control.ts";
import type { Limits } from "../limits.ts";
import type { OnError } from "../log.ts";
import { noMetrics, type RelayMetrics } from "../metrics.ts";
import { frames, type OutboundFrame } from "../outbound-frame.ts";
import type { Store } from "../store.ts";
import type { LogEntry } from "../types.ts";
import type { Peer } from "./peer.ts";
import type { RoomLog } from "./room-log.ts";

/** Longest a replaying connection may sit over half its buffer cap before it is cut (4008). */
const REPLAY_DRAIN_LIMIT_MS = 30_000;
const DRAIN_POLL_MS = 10;

const entrySeq = (entry: LogEntry) => (entry.type === "message" ? entry.message.seq : entry.change.seq);
const entryFrame = (entry: LogEntry) =>
  entry.type === "message" ? frames.message(entry.message) : frames.change(entry.change, entry.message);

export interface FanoutEnvironment {
  app: string;
  conversationId: string;
  store: Store;
  limits: Limits;
  now: () => number;
  onError: OnError;
  /** Where fan-out is counted (none: not counted). */
  metrics?: RelayMetrics | undefined;
}

export class Fanout {
  #peers = new Set<Peer>();
  /** Replays running now: the room stays loaded while any runs. */
  #replaying = 0;
  readonly #metrics: RelayMetrics;
  /**
   * The `synced` frame at the log's last seq, shared by every connection that syncs there: after
   * a restart a room's members all sync at the same seq, and each encoded (and framed) its own.
   */
  #synced: OutboundFrame | undefined;
  #syncedSeq = -1;

  constructor(
    private readonly env: FanoutEnvironment,
    private readonly log: RoomLog,
    /** Frames a connection gets right after `synced` (presence, who is typing). */
    private readonly greeting: (peer: Peer) => OutboundFrame[],
    /** A peer was forgotten (once per peer): its hold on presence is given back. */
    private readonly left: (peer: Peer) => void,
  ) {
    this.#metrics = env.metrics ?? noMetrics;
  }

  get size(): number {
    return this.#peers.size;
  }

  get replaying(): boolean {
    return this.#replaying > 0;
  }

  /** Registers a connection; `presenceEpoch` is its hold on its user's presence (see `left`). */
  add(conn: Connection, identity: ConnectionIdentity, live: boolean, presenceEpoch: number): Peer {
    const peer: Peer = { conn, identity, live, presenceEpoch, inbound: undefined };
    this.#peers.add(peer);
    return peer;
  }

  /** Charges one frame of `bytes` to the peer's own budget; the reason when it is over. */
  charge(peer: Peer, bytes: number, now: number): string | undefined {
    peer.inbound ??= new InboundBudget(this.env.limits, now, this.#metrics);
    return peer.inbound.charge(bytes, now);
  }

  /** Forgets a peer (its transport closed); false when it was not registered. */
  remove(peer: Peer): boolean {
    if (!this.#peers.delete(peer)) return false;
    this.left(peer);
    return true;
  }

  /** Closes a peer with a code and forgets it. Every server-side disconnect goes through here. */
  disconnect(peer: Peer, code: number, reason: string): void {
    this.remove(peer);
    peer.conn.close(code, reason);
  }

  /** The peers of one user, or all of them. */
  peers(userId?: string): Peer[] {
    const all = [...this.#peers];
    return userId === undefined ? all : all.filter((p) => p.identity.userId === userId);
  }

  /** Sends one frame to every live peer (except `exceptUser`'s own connections). */
  broadcast(frame: OutboundFrame, exceptUser?: string): void {
    let written = 0;
    for (const peer of this.#peers) {
      if (!peer.live || peer.identity.userId === exceptUser) continue;
      if (this.deliver(peer, frame)) written++;
    }
    // Counted once per frame, not per connection: the hot path stays one call.
    if (written > 0) this.#metrics.fannedOut(written, frame);
  }

  /**
   * Sends one frame to one peer within its outbound cap (see flow-control.ts): a peer over it is
   * closed with 4008 and forgotten. Answers to a peer's own frames go through here too, so a
   * client that uploads and never reads is cut like one that only never reads.
   */
  deliver(peer: Peer, frame: OutboundFrame): boolean {
    if (sendBounded(peer.conn, frame, this.env.limits.socketBufferBytes)) return true;
    this.remove(peer);
    return false;
  }

  /** Replays everything after `after` (nothing when undefined), then `synced` and the greeting. */
  async replay(peer: Peer, after: number | undefined): Promise<void> {
    this.#replaying++;
    try {
      let cursor = after === undefined ? this.log.lastSeq : Math.min(after, this.log.lastSeq);
      const { pageSize, socketBufferBytes } = this.env.limits;
      while (cursor < this.log.lastSeq) {
        if (peer.conn.closed) return;
        // From the window, frames are shared by every socket (each encoded once per state of its
        // message); from the store, each entry is encoded only as it is sent, so a replaying
        // socket holds one page of entries and what its buffer may queue, not a page of frames.
        const page: ReadonlyArray<{ seq: number; frame: () => OutboundFrame }> =
          this.log.after(cursor, pageSize)?.map((e) => ({ seq: e.seq, frame: () => e.frame })) ??
          (await this.#readPage(cursor, pageSize)).map((entry) => ({
            seq: entrySeq(entry),
            frame: () => entryFrame(entry),
          }));
        if (page.length === 0)
          throw new Error(`replay found nothing after seq ${cursor} (lastSeq ${this.log.lastSeq})`);
        for (const { seq, frame } of page) {
          // A commit may land in the store before memory learns of it: never pass lastSeq,
          // or the live fan-out would send the same entry again.
          if (seq > this.log.lastSeq) break;
          if (seq !== cursor + 1) throw new Error(`replay gap: expected seq ${cursor + 1}, got ${seq}`);
          peer.conn.send(frame());
          cursor = seq;
          // Backpressure after every frame, not every page: a page of large messages must not
          // pile up in the socket's queue before the first look.
          if (peer.conn.bufferedAmount > socketBufferBytes / 2 && !(await this.#drain(peer))) return;
        }
      }
      if (peer.conn.closed || !this.#peers.has(peer)) return;
      peer.live = true;
      if (!this.deliver(peer, this.#syncedFrame(this.log.lastSeq))) return;
      for (const frame of this.greeting(peer)) if (!this.deliver(peer, frame)) return;
    } catch (error) {
      this.env.onError(error, "replay failed", {
        app: this.env.app,
        conversationId: this.env.conversationId,
      });
      this.disconnect(peer, CloseCode.internal, "replay failed; reconnect to resume");
    } finally {
      this.#replaying--;
    }
  }

  #syncedFrame(lastSeq: number): OutboundFrame {
    if (!this.#synced || this.#syncedSeq !== lastSeq) {
      this.#synced = frames.synced(lastSeq);
      this.#syncedSeq = lastSeq;
    }
    return this.#synced;
  }

  async #readPage(after: number, limit: number): Promise<LogEntry[]> {
    const { app, conversationId, store, limits } = this.env;
    // Cut by bytes too (a quarter of the outbound cap of stored text: JSON may make it several
    // times that on the wire), so one replaying socket holds little of the store at a time.
    const maxBytes = Math.min(limits.pageBytes, Math.max(1, Math.floor(limits.socketBufferBytes / 4)));
    return store.readLog(app, conversationId, { after, limit, maxBytes });
  }

  /**
   * Waits (bounded) while a replaying socket has more than half its buffer cap queued; false
   * when it was closed instead. It waits for the transport's drain where it has one, and looks
   * every few milliseconds where it does not (workerd).
   */
  async #drain(peer: Peer): Promise<boolean> {
    const cap = this.env.limits.socketBufferBytes;
    const started = this.env.now();
    for (let round = 0; peer.conn.bufferedAmount > cap / 2; round++) {
      if (peer.conn.closed) return false;
      if (this.env.now() - started > REPLAY_DRAIN_LIMIT_MS || round * DRAIN_POLL_MS > REPLAY_DRAIN_LIMIT_MS) {
        this.disconnect(peer, CloseCode.tooSlowOrFast, "too slow: the replay did not drain in 30 s");
        return false;
      }
      const tick = new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      await (peer.conn.whenDrained ? Promise.race([peer.conn.whenDrained(), tick]) : tick);
    }
    return !peer.conn.closed;
  }

  /** Closes every connection. */
  closeAll(code: number, reason: string): void {
    for (const peer of [...this.#peers]) this.disconnect(peer, code, reason);
  }
}
