/**
 * For your back end (`parley/webhooks`): verify a webhook or pre-send hook call, and the
 * types of what Parley sends. WebCrypto only: it runs on Node ≥ 20, Deno, Bun and Workers.
 * `standardwebhooks` and `svix` verify the same signatures.
 */

export { type HeaderSource, newWebhookSecret, verifyWebhook } from "./party/host/webhooks/signature.ts";
export type {
  ConversationCreatedEvent,
  HookEditRequest,
  HookRequest,
  HookSendRequest,
  HookVerdict,
  MemberEvent,
  MessageChangeEvent,
  MessageCreatedEvent,
  Recipients,
  WebhookEndpointView,
  WebhookEvent,
  WebhookEventType,
} from "./protocol/index.ts";
export { WEBHOOK_EVENT_TYPES } from "./protocol/index.ts";
