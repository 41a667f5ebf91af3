import { isParleyClientError } from "../errors.ts";
import { CloseCode } from "../reasons.ts";
import type { TransportClose } from "./transport.ts";

/** An HTTP refusal of SSE or long-poll, as the close code a socket would have got. */
export function closeForStatus(
  status: number,
  reason: string,
  opened: boolean,
  retryAfterMs?: number,
): TransportClose {
  const code =
    status === 401
      ? CloseCode.unauthorized
      : status === 403
        ? CloseCode.forbidden
        : status === 404
          ? CloseCode.notFound
          : status === 429 || status === 503
            ? CloseCode.tryAgainLater
            : CloseCode.abnormal;
  const info: TransportClose = { code, reason, opened, status };
  if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
  return info;
}

/** Any error of an HTTP transport as a close. */
export function closeForError(error: unknown, opened: boolean): TransportClose {
  if (isParleyClientError(error) && error.status !== undefined) {
    return closeForStatus(error.status, error.message, opened, error.retryAfterMs);
  }
  const info: TransportClose = { code: CloseCode.abnormal, reason: String(error), opened };
  if (isParleyClientError(error) && error.code === "timeout") info.heartbeatTimeout = true;
  return info;
}
