import type { OutboundFrame } from "./outbound-frame.ts";

/**
 * What an actor needs from one client connection, whatever carries it (a WebSocket on Node,
 * Deno or workerd, an SSE stream, a long-poll). Adapters implement it privately, as crossws's
 * `Peer` and partyserver's connections do.
 */
export interface Connection {
  /** Unique per connection, for logs and bookkeeping. */
  readonly id: string;
  /** Queues a frame; never throws (a dead transport drops it). */
  send(frame: OutboundFrame): void;
  /** Closes with a contract close code; idempotent. */
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written to the network: the slow-consumer signal. */
  readonly bufferedAmount: number;
  /** True once the connection is closed or closing. */
  readonly closed: boolean;
  /**
   * Resolves when the queued bytes have been handed to the network (or the connection closed),
   * where the transport can tell; without it, a replay looks at `bufferedAmount` every few ms.
   */
  whenDrained?(): Promise<void>;
}

/** Who is on a connection, as the adapter verified it. */
export interface ConnectionIdentity {
  app: string;
  userId: string;
  /** partysocket's `_pk`: one client instance. A newer one with the same value replaces it. */
  instanceId?: string | undefined;
}

/** Data a socket delivered: text frames are the protocol; binary ones are refused. */
export type SocketData = string | ArrayBuffer | ArrayBufferView;
