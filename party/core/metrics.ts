/**
 * The seam through which the core reports what it does, for a host that keeps metrics (Node and
 * Deno serve them as Prometheus text, see party/node/metrics.ts). Runtime-free: the core only
 * calls these methods; without a host's sink it calls `noMetrics`, which does nothing, so the
 * edge runtimes pay one empty call. Counting is on the hot path: an implementation must only
 * add to numbers (no allocation, no label built from what a client sent).
 */
import type { OutboundFrame } from "./outbound-frame.ts";

/** Which limit refused a client (see README "What one client can cost"). */
export type RateLimit =
  /** A user's sends and changes per conversation (`PARLEY_SEND_RATE`; 429 or an `error` frame). */
  | "send_rate"
  /** A user's inbound bytes across the process (`PARLEY_INBOUND_BYTES_PER_SECOND`; 429 or 4008). */
  | "user_bytes"
  /** One socket's frames or bytes per second (`PARLEY_FRAME_RATE`…; 4008). */
  | "socket_frames"
  /** A user's open connections (`PARLEY_MAX_CONNECTIONS_PER_USER`; 429 or 4008). */
  | "connections"
  /** A user's read answers on their way (`PARLEY_MAX_READS_PER_USER`; 429). */
  | "reads";

/** Every rate limit, in the order the metrics list them. */
export const RATE_LIMITS: readonly RateLimit[] = [
  "send_rate",
  "user_bytes",
  "socket_frames",
  "connections",
  "reads",
];

/** The transports a connection may use (gauges and close counts are kept per transport). */
export type Transport = "websocket" | "sse";

/** What the core and the host layer report. */
export interface RelayMetrics {
  /** Live fan-out wrote `frame` to `connections` connections. */
  fannedOut(connections: number, frame: OutboundFrame): void;
  /** A limit refused a client. */
  rateLimited(limit: RateLimit): void;
  /** The relay closed a connection with `code` (a contract close code: 4008, 4009, 1001…). */
  closed(code: number, transport: Transport): void;
}

/** The sink of a host that keeps no metrics (the edge runtimes, or `PARLEY_METRICS=0`). */
export const noMetrics: RelayMetrics = {
  fannedOut() {},
  rateLimited() {},
  closed() {},
};
