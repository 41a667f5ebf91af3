import { CloseCode, ERROR_STATUS, type ErrorCode } from "../../protocol/index.ts";

/**
 * Parley's one error vocabulary (Hono's HTTPException style): every refusal carries the
 * contract's status code, a snake_case code, and a message a developer can act on.
 */
export type { ErrorCode } from "../../protocol/index.ts";
export { CloseCode };

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
    this.status = ERROR_STATUS[code];
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
