/**
 * Parley's client SDK: conversations that receive their log (messages, and the edits,
 * deletions and reactions that change them) exactly once and in order, fold it into each
 * message's latest state, send and change through a durable outbox, and stay connected over
 * WebSocket, SSE or long-poll, in browsers, Node (with `ws`) and Deno. See `client/README.md`.
 */
export type { BackoffOptions } from "./backoff.ts";
export { type ClientEvents, createParleyClient, ParleyClient, type ParleyClientOptions } from "./client.ts";
export {
  Conversation,
  type ConversationEvents,
  type ConversationOptions,
  type TransportPreference,
} from "./conversation.ts";
export { isParleyClientError, type LocalErrorCode, ParleyClientError } from "./errors.ts";
export type { FetchLike, HttpApi } from "./http.ts";
export { Inbox, type InboxEvents } from "./inbox.ts";
export { IndexedDbOutboxStorage } from "./outbox/indexeddb.ts";
export {
  type ChangeRequest,
  MemoryOutboxStorage,
  type OutboxEntry,
  type OutboxStorage,
} from "./outbox/storage.ts";
export { CloseCode, Reason, UpdateCause } from "./reasons.ts";
export type { SessionEvents } from "./session.ts";
export { State, type StateChange } from "./state.ts";
export type { TokenProvider } from "./token.ts";
export type { TransportKind } from "./transports/transport.ts";
export type {
  Change,
  ChangeKind,
  ConversationInfo,
  EditFields,
  HistoryPage,
  LogEntry,
  LogPage,
  Message,
  Profile,
  Reaction,
  RepliesPage,
  ThreadItem,
  ThreadPage,
  Users,
} from "./types.ts";
export type { TypingChange } from "./typing.ts";
export type { DocumentLike, WindowLike } from "./wake.ts";
