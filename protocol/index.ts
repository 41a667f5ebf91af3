/**
 * Parley's wire protocol: every frame in both directions, the close and error codes, and the
 * shapes of messages, threads and pages. It imports nothing: the relay's core, its HTTP API and
 * the client SDK all build on it, so they cannot disagree about what is on the wire.
 */
export * from "./codes.ts";
export * from "./decode.ts";
export type * from "./frames.ts";
export type * from "./shapes.ts";
export type * from "./webhooks.ts";
export { WEBHOOK_EVENT_TYPES } from "./webhooks.ts";
