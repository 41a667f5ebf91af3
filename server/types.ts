/**
 * What the back-end helper sends and gets, derived from the zod schemas the relay validates
 * requests with and documents its answers with (the OpenAPI document is rendered from the same
 * ones), so the helper cannot drift from the routes. Type-only: no schema is loaded at run time.
 */
import type { z } from "zod";
import type {
  conversationViewSchema,
  createdConversationSchema,
  logPageSchema,
  messageSchema,
  newWebhookEndpointSchema,
  profileSchema,
  webhookEndpointSchema,
} from "../api/openapi/shapes.ts";
import type { createConversationSchema } from "../api/routes/conversations.ts";
import type { mintTokenSchema } from "../api/routes/tokens.ts";
import type { newEndpointSchema } from "../api/routes/webhooks.ts";
import type { editInputSchema, sendInputSchema } from "../party/core/validation.ts";
import type { profilePatchSchema } from "../party/host/profiles.ts";

/** `POST /v1/conversations`: `{ id?, title?, members }`. */
export type NewConversation = z.input<typeof createConversationSchema>;
/** A conversation as `POST /v1/conversations` answers it (with `createdAt`). */
export type CreatedConversation = z.output<typeof createdConversationSchema>;
/** `GET /v1/conversations/:id`: members with their read positions. */
export type ConversationView = z.output<typeof conversationViewSchema>;
/** A message in its latest state. */
export type Message = z.output<typeof messageSchema>;
/** A page of `GET …/log`: messages and changes above `after`. */
export type LogPage = z.output<typeof logPageSchema>;
/** `POST /v1/tokens`: `{ userId, name?, ttlSeconds? }`. */
export type MintToken = z.input<typeof mintTokenSchema>;
/** `POST /v1/webhooks`: `{ url, events? }`. */
export type NewWebhook = z.input<typeof newEndpointSchema>;
/** A registered endpoint (no secret). */
export type WebhookEndpoint = z.output<typeof webhookEndpointSchema>;
/** A new endpoint: its `secret` (`whsec_…`) is shown this once. */
export type NewWebhookEndpoint = z.output<typeof newWebhookEndpointSchema>;
/** A user's profile as stored: `name` and `picture`, each `null` when unset. */
export type Profile = z.output<typeof profileSchema>;
/** `PUT /v1/users/:userId/profile`: a field left out is kept, `null` clears it. */
export type ProfileUpdate = z.input<ReturnType<typeof profilePatchSchema>>;
/** What a message edit sets: `body`, `meta` (`null` removes it), or both. */
export type MessageEdit = z.input<typeof editInputSchema>;

/**
 * A send with the server key: the message fields of `POST …/messages` and the member it is
 * sent as. `clientMessageId` may be left out: the helper then makes one, so its own retries
 * are stored once; pass your own to make retries across restarts of your back end safe too.
 */
export type ServerSend = Omit<z.input<typeof sendInputSchema>, "clientMessageId"> & {
  senderId: string;
  clientMessageId?: string;
};

/** A stored message, and whether this call stored it (false: the key had been sent before). */
export interface SentMessage {
  message: Message;
  created: boolean;
}
