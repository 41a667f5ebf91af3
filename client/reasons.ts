import { CloseCode as ProtocolCloseCode } from "../protocol/index.ts";

/**
 * Every reason the SDK gives for a state change, and the close codes it acts on, in one place
 * (as centrifuge-js keeps its codes): a `state` event's `reason` is always one of these.
 */
export enum Reason {
  /** The transport opened; the replay is running. */
  TransportOpen = "transport_open",
  /** The replay (and any gap fill) finished. */
  Synced = "synced",
  /** The inbox loaded its thread list. */
  ListLoaded = "list_loaded",
  /** The connection dropped or could not be made; reconnecting. */
  TransportClosed = "transport_closed",
  /** Our own heartbeat found the connection dead (half-open). */
  HeartbeatTimeout = "heartbeat_timeout",
  /** The server closed with 4008 (too slow or too fast): resume. */
  TooSlowOrFast = "too_slow_or_fast",
  /** The server is shutting down (1001): reconnect. */
  ServerShutdown = "server_shutdown",
  /** The server refused or ended the connection for an expired or bad token: refresh it. */
  TokenExpired = "token_expired",
  /** A newer connection of this client instance replaced this one (4009): stopped. */
  Replaced = "replaced",
  /** Not a member, or removed (4003): stopped. */
  Forbidden = "forbidden",
  /** No such conversation (4004): stopped. */
  NotFound = "not_found",
  /** The token was refused and cannot be refreshed: stopped. */
  Unauthorized = "unauthorized",
  /** The application called `close()`. */
  ClosedByClient = "closed_by_client",
  /** The application called `reconnect()`. */
  ReconnectRequested = "reconnect_requested",
  /** The browser reported `online`. */
  NetworkOnline = "network_online",
  /** A hidden tab became visible. */
  PageVisible = "page_visible",
  /** `auto`: WebSocket kept failing, now on a fallback transport. */
  TransportFallback = "transport_fallback",
  /** `auto`: back on WebSocket after running on a fallback. */
  TransportUpgrade = "transport_upgrade",
  /** Filling a gap over HTTP failed; resuming from the last seq instead. */
  GapFillFailed = "gap_fill_failed",
  /** Anything else the server closed with. */
  ServerClosed = "server_closed",
}

/** Why a conversation's `updated` event says a message a UI shows has a new state. */
export enum UpdateCause {
  /** A change of the log (anyone's edit, deletion or reaction, yours included). */
  Change = "change",
  /** One of your changes, shown at once while it waits in the outbox (optimistic). */
  Optimistic = "optimistic",
  /** One of your changes was refused for good and is undone (`changeFailed` tells why). */
  Rollback = "rollback",
  /** A state read over HTTP (`history()`) was newer than the one known. */
  Refresh = "refresh",
}

/**
 * Close codes: the contract's (from the protocol module), plus two the SDK reports for a
 * transport that ended without a close frame from the server.
 */
export const CloseCode = {
  ...ProtocolCloseCode,
  /** Local: the transport failed (no close frame, network error). */
  abnormal: 1006,
  /** Local: HTTP 429/503 on SSE or long-poll (`Retry-After` applies). */
  tryAgainLater: 1013,
} as const;

/** What a session does after its transport closed with a code. */
export type CloseAction =
  | { kind: "reconnect"; reason: Reason }
  | { kind: "refresh_token"; reason: Reason }
  | { kind: "stop"; reason: Reason; error: boolean };

/** The one policy for close codes, shared by conversations and the inbox. */
export function closeAction(code: number): CloseAction {
  switch (code) {
    case CloseCode.unauthorized:
      return { kind: "refresh_token", reason: Reason.TokenExpired };
    case CloseCode.replaced:
      // Another instance of this client took over: fighting it would ping-pong forever.
      return { kind: "stop", reason: Reason.Replaced, error: false };
    case CloseCode.forbidden:
      return { kind: "stop", reason: Reason.Forbidden, error: true };
    case CloseCode.notFound:
      return { kind: "stop", reason: Reason.NotFound, error: true };
    case CloseCode.tooSlowOrFast:
      return { kind: "reconnect", reason: Reason.TooSlowOrFast };
    case CloseCode.goingAway:
      return { kind: "reconnect", reason: Reason.ServerShutdown };
    case CloseCode.abnormal:
    case CloseCode.tryAgainLater:
      return { kind: "reconnect", reason: Reason.TransportClosed };
    default:
      return { kind: "reconnect", reason: Reason.ServerClosed };
  }
}
