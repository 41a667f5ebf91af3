/**
 * What a room's connections are told about presence (CONTRACT.md v1.1, "Frames"): each one gets
 * the full list once, right after `synced`; after that only what changed, gathered over a short
 * window into one `{ joined, left }` frame that is encoded once and sent to every connection.
 *
 * Why: with a full list on every change, N members coming back at once after a restart cost
 * N changes × N sockets × a list of N ids. Now each socket gets one list and a few deltas
 * holding each id about once: O(N) bytes per socket, however the joins are spread.
 *
 * Every connection's view is "the published set, then every delta after it": the full list a
 * connection gets is the published set (not the tracker's newest state), so the next delta
 * applies to it exactly. Were the greeting newer than the published set, a user who left and
 * came back within one window (netted out: no delta) would never be corrected for it.
 */
import { frames, type OutboundFrame } from "../outbound-frame.ts";

/** Inserts `id` into a sorted list (a copy), keeping it sorted. */
function withSorted(sorted: readonly string[], id: string): string[] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < id) lo = mid + 1;
    else hi = mid;
  }
  return [...sorted.slice(0, lo), id, ...sorted.slice(lo)];
}

export class PresenceFeed {
  /** The online set as the live connections know it: the last list or delta sent. */
  #published = new Set<string>();
  /** Users whose state now differs from the published one: true = online. */
  #pending = new Map<string, boolean>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The published set, sorted, and its frame (encoded once, shared by every greeting). */
  #sorted: string[] | undefined;
  #full: OutboundFrame | undefined;
  /** The next flush sends the full list to everyone (connections adopted after hibernation). */
  #resync = false;

  constructor(
    /** The coalescing window (the contract says at most 250 ms). */
    private readonly windowMs: number,
    /** Sends one frame to every live connection, except those of `exceptUser` when given. */
    private readonly broadcast: (frame: OutboundFrame, exceptUser?: string) => void,
  ) {}

  /** The tracker's word: `userId` came online (`true`) or went offline (`false`). */
  changed(userId: string, online: boolean): void {
    // Back to what the connections already know (joined and left in one window): nothing to say.
    if (this.#published.has(userId) === online) this.#pending.delete(userId);
    else this.#pending.set(userId, online);
    this.#schedule();
  }

  /**
   * Connections that were live before this room was loaded (a Durable Object woken from
   * hibernation keeps its sockets) know an online set this room never saw: the next flush
   * sends everyone the full list, which replaces whatever they held.
   */
  resync(): void {
    this.#resync = true;
    this.#schedule();
  }

  /**
   * The full list for a connection that just synced: the published set, plus its own user
   * (online while it is connected; a delta with it may follow, which changes nothing).
   */
  greeting(self: string): OutboundFrame {
    this.#sorted ??= [...this.#published].sort();
    if (this.#published.has(self)) {
      this.#full ??= frames.presence({ online: this.#sorted });
      return this.#full;
    }
    return frames.presence({ online: withSorted(this.#sorted, self) });
  }

  /** True while a change waits to be sent: the room stays loaded until it is. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined || (this.#pending.size === 0 && !this.#resync)) return;
    this.#timer = setTimeout(() => this.flushNow(), this.windowMs);
  }

  /** Sends what changed since the last flush, as one frame for every connection. */
  flushNow(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0 && !this.#resync) return;
    const joined: string[] = [];
    const left: string[] = [];
    for (const [userId, online] of this.#pending) {
      if (online) {
        joined.push(userId);
        this.#published.add(userId);
      } else {
        left.push(userId);
        this.#published.delete(userId);
      }
    }
    this.#pending.clear();
    this.#sorted = undefined;
    this.#full = undefined;
    if (this.#resync) {
      this.#resync = false;
      this.#sorted = [...this.#published].sort();
      this.#full = frames.presence({ online: this.#sorted });
      this.broadcast(this.#full);
      return;
    }
    // One user came online and nothing else changed (most deltas while a room's members come
    // back one by one): that user's connections already hold it, as every greeting names its
    // own user, so the delta goes to the others only (one write fewer per reconnecting socket).
    const onlyJoined = joined.length === 1 && left.length === 0 ? joined[0] : undefined;
    this.broadcast(frames.presence({ joined: joined.sort(), left: left.sort() }), onlyJoined);
  }

  /** Stops the timer (the room is closing): nothing more is sent. */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
