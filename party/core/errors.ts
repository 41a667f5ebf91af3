import { CloseCode, ERROR_STATUS, type ErrorCode } from "../../protocol/index.ts";
import type { LogFields, OnError } from "./log.ts";

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

/**
 * A `.catch` for a store call: a store that cannot answer (a lost connection, a lock held too
 * long, a remote server down) is the client's 503 `store_unavailable` (retry), never a 500; the
 * cause goes to `onError` with `context`. A refusal the call made itself passes through.
 */
export function storeRefusal(
  onError: OnError,
  context: string,
  fields?: LogFields,
): (error: unknown) => never {
  return (error) => {
    if (isParleyError(error)) throw error;
    onError(error, context, fields);
    throw new ParleyError("store_unavailable", "the store is unavailable; retry", 1);
  };
}
