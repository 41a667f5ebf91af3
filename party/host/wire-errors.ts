/**
 * Refusals across an RPC boundary (Durable Object stubs): structured clone keeps an Error's
 * message but not its class, so ParleyErrors travel as plain data and are rebuilt on the
 * other side.
 */
import { type ErrorCode, isParleyError, ParleyError } from "../core/errors.ts";
import type { LogFields, OnError } from "../core/log.ts";

export type WireResult<T> =
  | { ok: true; value: T }
  | { ok: false; code: ErrorCode; message: string; retryAfter?: number };

/**
 * Runs `work` and reports its value or its refusal as data. Other errors are refusals too
 * (internal), and go to `onError` with `where` (the actor's app and conversation).
 */
export async function toWire<T>(
  work: () => T | Promise<T>,
  onError: OnError,
  where?: LogFields,
): Promise<WireResult<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (isParleyError(error)) {
      return error.retryAfter === undefined
        ? { ok: false, code: error.code, message: error.message }
        : { ok: false, code: error.code, message: error.message, retryAfter: error.retryAfter };
    }
    onError(error, "internal error in an actor", where);
    return { ok: false, code: "internal", message: "internal error" };
  }
}

/** The value of a wire result, or its refusal thrown again as a ParleyError. */
export function fromWire<T>(result: WireResult<T>): T {
  if (result.ok) return result.value;
  throw new ParleyError(result.code, result.message, result.retryAfter);
}
