/**
 * The gateway's sockets, and its heartbeat spread over time. Every socket is still visited once
 * per heartbeat interval (pinged, or cut when it did not answer the last ping), but the sockets
 * are dealt into SLICES groups, and one group is visited per tick of interval / SLICES. A socket
 * stays in its group for life, so the time between two visits of it is the interval, as it was.
 * Why: one loop over every socket was one turn of the event loop per interval, in which no send
 * was answered and no frame delivered; at 6,000 sockets it took ~170 ms (a profile of the bench's
 * many-rooms metric, issue 17), at 10,000 more.
 */

/** Groups of sockets, one visited per tick: with the default 25 s interval, a tick a second. */
export const HEARTBEAT_SLICES = 25;

/** What a member keeps for this: its group, for life. */
export interface HeartbeatMember {
  heartbeatSlot: number;
}

export class HeartbeatSlices<T extends HeartbeatMember> {
  readonly #slices: Array<Set<T>>;
  /** The group the next member joins: dealt round-robin, so the groups stay even. */
  #nextSlot = 0;
  /** The group the next tick visits. */
  #tick = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(
    intervalMs: number,
    /** Called once per interval for every member (the heartbeat's own rule). */
    private readonly visit: (member: T) => void,
    slices = HEARTBEAT_SLICES,
  ) {
    this.#slices = Array.from({ length: slices }, () => new Set<T>());
    this.#timer = setInterval(() => this.#beat(), Math.max(1, intervalMs / slices));
    this.#timer.unref();
  }

  add(member: T): void {
    // Already here: it keeps its group (a second deal would leave it in two).
    if (this.#slices[member.heartbeatSlot]?.has(member)) return;
    member.heartbeatSlot = this.#nextSlot;
    this.#nextSlot = (this.#nextSlot + 1) % this.#slices.length;
    (this.#slices[member.heartbeatSlot] as Set<T>).add(member);
  }

  delete(member: T): void {
    this.#slices[member.heartbeatSlot]?.delete(member);
  }

  /** Members in all groups (read rarely: the gateway's connection count). */
  get size(): number {
    let size = 0;
    for (const slice of this.#slices) size += slice.size;
    return size;
  }

  /** Every member, group by group. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const slice of this.#slices) yield* slice;
  }

  /** Stops the ticks; members stay until deleted. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #beat(): void {
    const slice = this.#slices[this.#tick] as Set<T>;
    this.#tick = (this.#tick + 1) % this.#slices.length;
    for (const member of slice) this.visit(member);
  }
}
