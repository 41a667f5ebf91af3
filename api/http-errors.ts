import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { isParleyError, ParleyError } from "../party/core/errors.ts";
import type { LogFields, OnError } from "../party/core/log.ts";

/** Renders any error as the contract's `{ error: { code, message } }` with its status. */
export function errorResponse(c: Context, error: unknown, onError: OnError): Response {
  let refusal: ParleyError;
  if (isParleyError(error)) refusal = error;
  else if (error instanceof HTTPException && error.status === 413) {
    refusal = new ParleyError("too_large", "request body is too large");
  } else {
    // With a request log, the request's own line carries the error (one line, with its
    // reqId); without one, it goes to onError.
    const line = c.get("logLine") as LogFields | undefined;
    if (c.get("deps")?.log && line) c.set("failure", error);
    else
      onError(error, "request failed", { ...line, method: c.req.method, route: new URL(c.req.url).pathname });
    refusal = new ParleyError("internal", "internal error");
  }
  const line = c.get("logLine") as LogFields | undefined;
  if (line) line.code = refusal.code;
  if (refusal.retryAfter !== undefined) c.header("Retry-After", String(refusal.retryAfter));
  return c.json(
    { error: { code: refusal.code, message: refusal.message } },
    refusal.status as 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503,
  );
}
