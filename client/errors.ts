/** The SDK's one error type: a code from the contract (or a local one) and whether to retry. */

/** Codes the SDK raises itself, besides the server's (`rate_limited`, `conflict`, …). */
export type LocalErrorCode =
  /** The request never got an answer (connection refused, reset, DNS …). */
  | "network"
  /** No answer within the timeout. */
  | "timeout"
  /** The socket closed before the server acknowledged a send. */
  | "disconnected"
  /** The conversation or client was closed by the application. */
  | "closed"
  /** The server answered something that is not the contract's shape. */
  | "bad_response"
  /** The SDK was configured wrongly. */
  | "config";

const RETRYABLE_CODES = new Set([
  "network",
  "timeout",
  "disconnected",
  "rate_limited",
  "store_unavailable",
  "hook_unavailable",
  "shutting_down",
  "internal",
  "bad_response",
]);

export class ParleyClientError extends Error {
  /** HTTP status, when the error came from an HTTP answer. */
  readonly status: number | undefined;
  /** How long the server asked us to wait (`Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined;
  /** The socket close code, when the error ended a connection. */
  readonly closeCode: number | undefined;

  constructor(
    /** The server's error code (`forbidden`, `conflict`, `rate_limited` …) or a local one. */
    readonly code: LocalErrorCode | (string & {}),
    message: string,
    extra: { status?: number; retryAfterMs?: number; closeCode?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "ParleyClientError";
    this.status = extra.status;
    this.retryAfterMs = extra.retryAfterMs;
    this.closeCode = extra.closeCode;
  }

  /** True when the same request may succeed later (sends are retried with the same key). */
  get retryable(): boolean {
    if (RETRYABLE_CODES.has(this.code)) return true;
    const s = this.status;
    return s !== undefined && (s === 408 || s === 425 || s === 429 || s >= 500);
  }
}

export const isParleyClientError = (e: unknown): e is ParleyClientError => e instanceof ParleyClientError;
