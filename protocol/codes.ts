/** Close codes and error codes of the contract: one table each, for the server and the SDK. */

/** Socket close codes (SSE sends them in its final `close` event). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  /** A refused query parameter (e.g. `after`): the WebSocket "policy violation" code. */
  policyViolation: 1008,
  tooLarge: 1009,
  internal: 1011,
  /** Bad or expired token, or a token naming an unknown app. */
  unauthorized: 4001,
  /** Not a member, or removed. */
  forbidden: 4003,
  /** No such conversation. */
  notFound: 4004,
  /** Too slow or too fast (outbound buffer or rate limit exceeded): the client resumes. */
  tooSlowOrFast: 4008,
  /** Replaced by a newer connection of the same client instance: do not reconnect. */
  replaced: 4009,
} as const;

/** Every refusal's snake_case code, as HTTP errors and `error` frames carry it. */
export const ERROR_STATUS = {
  bad_request: 400,
  bad_frame: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  /** The app's pre-send hook refused the message. */
  rejected: 422,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  store_unavailable: 503,
  shutting_down: 503,
  /** The app's pre-send hook did not answer, and the app refuses sends then. */
  hook_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The HTTP API's error body: `{ "error": { "code", "message" } }`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}
