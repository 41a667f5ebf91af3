/** The helper's one error type: the relay's `{ error: { code, message } }` and its status. */
import type { ErrorCode } from "../protocol/index.ts";

/** Codes the helper raises itself, when the relay gave no answer of the contract's shape. */
export type HelperErrorCode =
  /** No answer: connection refused or reset, DNS (status 0). */
  | "network"
  /** No answer within `timeoutMs` (status 0). */
  | "timeout"
  /** An answer that is not the contract's error shape (a proxy's HTML page, say). */
  | "bad_response";

export class ParleyApiError extends Error {
  override readonly name = "ParleyApiError";

  constructor(
    /** The HTTP status; 0 when there was no answer. */
    readonly status: number,
    /** The relay's error code (`not_found`, `forbidden`, `rate_limited` …) or the helper's. */
    readonly code: ErrorCode | HelperErrorCode,
    message: string,
    /** `Retry-After` of a 429 or 503, in seconds, when the relay sent one. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** `Retry-After` in seconds (a number or an HTTP date), or undefined. */
export function retryAfterOf(res: Response): number | undefined {
  const value = res.headers.get("retry-after");
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** The error an answer that is not 2xx stands for. */
export async function errorOf(res: Response): Promise<ParleyApiError> {
  const text = await res.text().catch(() => "");
  const retryAfter = retryAfterOf(res);
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = body.error ?? {};
    if (typeof code === "string" && typeof message === "string")
      return new ParleyApiError(res.status, code as ErrorCode, message, retryAfter);
  } catch {
    // not JSON: described below
  }
  return new ParleyApiError(
    res.status,
    "bad_response",
    `the relay answered ${res.status} without an error body: ${text.slice(0, 200)}`,
    retryAfter,
  );
}
