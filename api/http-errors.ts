import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { isParleyError, ParleyError } from "../party/core/errors.ts";

/** Renders any error as the contract's `{ error: { code, message } }` with its status. */
export function errorResponse(
  c: Context,
  error: unknown,
  onError: (e: unknown, ctx: string) => void,
): Response {
  let refusal: ParleyError;
  if (isParleyError(error)) refusal = error;
  else if (error instanceof HTTPException && error.status === 413) {
    refusal = new ParleyError("too_large", "request body is too large");
  } else {
    onError(error, `${c.req.method} ${new URL(c.req.url).pathname}`);
    refusal = new ParleyError("internal", "internal error");
  }
  if (refusal.retryAfter !== undefined) c.header("Retry-After", String(refusal.retryAfter));
  return c.json(
    { error: { code: refusal.code, message: refusal.message } },
    refusal.status as 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503,
  );
}
