/**
 * The bounds on what one client may cost the relay, in both directions, decided before any work
 * is done for it: refusing must be cheaper than serving.
 *
 * - Outbound: every frame toward a connection (fan-out, replay, acks, errors, pongs, thread
 *   items) goes through `sendBounded`. A connection whose queue is over its cap is closed with
 *   4008 (the client resumes from its last seq) instead of queueing more.
 * - Inbound: every frame from a connection is charged to its `InboundBudget` (frames and
 *   bytes) before it is parsed; a connection over either is closed with 4008.
 */
import type { Connection } from "./connection.ts";
import { CloseCode } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { noMetrics, type RelayMetrics } from "./metrics.ts";
import type { OutboundFrame } from "./outbound-frame.ts";
import { TokenBucket } from "./token-bucket.ts";

/** Sends `frame` unless the connection already queues more than `capBytes`: then closes it (4008). */
export function sendBounded(conn: Connection, frame: OutboundFrame, capBytes: number): boolean {
  if (conn.bufferedAmount > capBytes) {
    conn.close(CloseCode.tooSlowOrFast, "too slow: outbound buffer full; reconnect with after");
    return false;
  }
  conn.send(frame);
  return true;
}

/** What one connection may send: frames per second and bytes per second, each with a burst. */
export class InboundBudget {
  /**
   * Made at the first frame, not with the connection: most sockets send nothing for a long
   * while (10,000 of them resume at once after a restart), and a bucket starts full either way,
   * so one made later answers exactly as one made at connect would.
   */
  #frames: TokenBucket | undefined;
  #bytes: TokenBucket | undefined;
  #refused = false;

  constructor(
    private readonly limits: Limits,
    _now: number,
    /** Counts refusals (`socket_frames`). */
    private readonly metrics: RelayMetrics = noMetrics,
  ) {}

  /** Charges one frame of `bytes`; the reason when the connection is over its budget. */
  charge(bytes: number, now: number): string | undefined {
    const { limits } = this;
    this.#frames ??= new TokenBucket(limits.frameRate, limits.frameBurst, now);
    this.#bytes ??= new TokenBucket(limits.inboundBytesPerSecond, limits.inboundBytesBurst, now);
    let over: string | undefined;
    if (this.#frames.take(now) > 0) over = "too many frames; slow down and reconnect";
    else if (this.#bytes.take(now, bytes) > 0) over = "too many bytes; slow down and reconnect";
    // Counted once per connection: frames already read after the refusal are refused too.
    if (over && !this.#refused) {
      this.#refused = true;
      this.metrics.rateLimited("socket_frames");
    }
    return over;
  }
}

/**
 * What a frame's data costs: its bytes, or for text already decoded its length in UTF-16 units
 * (what parsing it costs; exact for ASCII, and not worth a second encoding pass otherwise).
 */
export function inboundSize(data: string | ArrayBuffer | ArrayBufferView): number {
  return typeof data === "string" ? data.length : data.byteLength;
}
