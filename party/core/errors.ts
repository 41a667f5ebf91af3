/**
 * Parley's one error vocabulary (Hono's HTTPException style): every refusal carries the
 * contract's status code, a snake_case code, and a message a developer can act on.
 */
export type ErrorCode =
  | "bad_request"
  | "bad_frame"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "store_unavailable"
  | "shutting_down"
  | "internal";

const statusByCode: Record<ErrorCode, number> = {
  bad_request: 400,
  bad_frame: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  store_unavailable: 503,
  shutting_down: 503,
  internal: 500,
};

/** Socket close codes of the contract, for refusals that end a connection. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  internal: 1011,
  tooLarge: 1009,
  unauthorized: 4001,
  forbidden: 4003,
  notFound: 4004,
  tooSlowOrFast: 4008,
  replaced: 4009,
} as const;

export class ParleyError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds a client should wait before retrying (429 and 503). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "ParleyError";
    this.status = statusByCode[code];
  }

  /** The socket close code that matches this refusal, when it ends a connection. */
  get closeCode(): number {
    if (this.code === "unauthorized") return CloseCode.unauthorized;
    if (this.code === "forbidden") return CloseCode.forbidden;
    if (this.code === "not_found") return CloseCode.notFound;
    return CloseCode.internal;
  }
}

export const isParleyError = (e: unknown): e is ParleyError => e instanceof ParleyError;
