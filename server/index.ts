/**
 * For your back end (`parley/server`): sign user tokens, call the relay's server-key routes
 * with types, and verify webhooks. Web standards only (fetch, WebCrypto): it runs on Node ≥ 20,
 * Deno, Bun and Workers. The types come from the same zod schemas the relay validates with.
 */

// Webhooks are verified by the one implementation `parley/webhooks` exports, not a copy.
export * from "../webhooks.ts";
export { type HelperErrorCode, ParleyApiError } from "./api-error.ts";
export { ParleyServer, type ParleyServerOptions } from "./parley-server.ts";
export { signUserToken, type UserTokenOptions } from "./token.ts";
export type {
  ConversationView,
  CreatedConversation,
  LogPage,
  Message,
  MessageEdit,
  MintToken,
  NewConversation,
  NewWebhook,
  NewWebhookEndpoint,
  Profile,
  ProfileUpdate,
  SentMessage,
  ServerSend,
  WebhookEndpoint,
} from "./types.ts";
