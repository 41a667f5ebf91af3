/** What a session needs from one connection, whatever carries it. */
import type { ClientFrame, ServerFrame } from "../types.ts";

export type TransportKind = "websocket" | "sse" | "longpoll";

/** How a connection ended. */
export interface TransportClose {
  /** A contract close code, or a local one (1006 transport failure, 1013 retry later). */
  code: number;
  reason: string;
  /** Whether the connection ever opened. */
  opened: boolean;
  /** The server asked to wait this long (HTTP `Retry-After` on SSE or long-poll). */
  retryAfterMs?: number;
  /** Our own liveness check ended it. */
  heartbeatTimeout?: boolean;
  /** The HTTP status that refused an SSE stream or a long-poll (`code` is what it maps to). */
  status?: number;
}

export interface TransportHandlers {
  /** The connection is up; the replay follows. */
  onOpen(): void;
  onFrame(frame: ServerFrame): void;
  /** Called exactly once per connection, unless the session closed it itself. */
  onClose(info: TransportClose): void;
}

/**
 * One connection attempt. Transports do not reconnect: the session does, with one policy for
 * all three (backoff, token refresh, close codes, fallback). After `close()` no handler runs.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** Whether `send()` can carry client frames (only a WebSocket can). */
  readonly canSend: boolean;
  /** Sends a frame; false when it could not go out now. */
  send(frame: ClientFrame): boolean;
  /** Checks liveness now (after `online` or a tab becoming visible). */
  probe(): void;
  /** Ms since anything (bytes, comments, frames) last arrived. */
  idleMs(): number;
  /** Ends the connection without calling `onClose`. */
  close(): void;
}

/** Timings every transport understands. */
export interface TransportTimings {
  /** Give up on a connection that has not opened within this long. */
  connectTimeoutMs: number;
  /** WebSocket: send our own ping after this much silence. */
  heartbeatMs: number;
  /** WebSocket: a ping unanswered this long means the connection is dead. */
  pongTimeoutMs: number;
  /** SSE: no bytes at all (the relay sends a comment every 15 s) for this long means dead. */
  sseIdleTimeoutMs: number;
  /** Long-poll: `wait` seconds per request (≤ 30). */
  longPollWaitSeconds: number;
  /** Long-poll: how often to refresh presence and read positions, which it cannot stream. */
  signalPollMs: number;
}

/**
 * The once-only ending every transport shares: `close()` by the session (no handler runs after
 * it) or `finish()` by the connection itself (`onClose` exactly once).
 */
export abstract class TransportBase {
  protected opened = false;
  protected done = false;

  constructor(protected readonly handlers: TransportHandlers) {}

  close(): void {
    if (this.done) return;
    this.done = true;
    this.stop();
  }

  protected finish(info: Omit<TransportClose, "opened">): void {
    if (this.done) return;
    this.done = true;
    this.stop();
    this.handlers.onClose({ ...info, opened: this.opened });
  }

  /** Releases what the connection holds (sockets, timers, requests). */
  protected abstract stop(): void;
}
