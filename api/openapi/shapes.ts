/**
 * What the HTTP API answers, as zod schemas for the OpenAPI document. `protocol/` defines these
 * shapes as TypeScript types (it has no dependencies); each schema here is checked against its
 * type at compile time, so the document cannot drift from what the relay sends.
 *
 * Objects are rendered with `additionalProperties: false` (zod's output mode): a field the relay
 * starts sending without documenting it is a violation the validating proxy test reports.
 */
import { z } from "zod";
import {
  type Change,
  type ConversationView,
  ERROR_STATUS,
  type ErrorCode,
  type HistoryPage,
  type LogEntry,
  type LogPage,
  type Message,
  type Profile,
  type RepliesPage,
  type ThreadItem,
  type ThreadPage,
  type Users,
  WEBHOOK_EVENT_TYPES,
  type WebhookEndpointView,
} from "../../protocol/index.ts";

/** True when A and B are the same type (both ways assignable). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const seq = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const positiveSeq = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
const timestamp = z.string().meta({ format: "date-time", description: "ISO-8601, set by the server." });
const jsonObject = z.record(z.string(), z.unknown()).meta({ description: "A JSON object, kept as sent." });

export const reactionSchema = z
  .object({ count: z.int().min(1), users: z.array(z.string()) })
  .meta({ id: "Reaction" });

export const messageSchema = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    seq: positiveSeq.meta({ description: "The seq of the log entry that created the message." }),
    senderId: z.string(),
    clientMessageId: z.string(),
    body: z.string().meta({ description: '"" once deleted.' }),
    meta: jsonObject.optional(),
    createdAt: timestamp,
    editedAt: timestamp.optional(),
    deleted: z.literal(true).optional(),
    reactions: z.record(z.string(), reactionSchema),
    replyTo: positiveSeq.optional(),
    replyCount: z.int().min(0),
  })
  .meta({ id: "Message", description: "A message in its latest state." });

export const changeSchema = z
  .object({
    seq: positiveSeq,
    target: positiveSeq,
    kind: z.enum(["edit", "delete", "react", "unreact"]),
    userId: z.string().nullable().meta({ description: "null when the app's back end made it (server key)." }),
    at: timestamp,
    body: z.string().optional(),
    meta: jsonObject.nullable().optional(),
    key: z.string().optional(),
  })
  .meta({ id: "Change", description: "A log entry that changes an earlier message." });

export const logEntrySchema = z
  .discriminatedUnion("type", [
    z.object({ type: z.literal("message"), message: messageSchema }),
    z.object({ type: z.literal("change"), change: changeSchema, message: messageSchema }),
  ])
  .meta({ id: "LogEntry" });

export const profileSchema = z
  .object({
    name: z.string().nullable().meta({ description: "The display name (1-64 characters)." }),
    picture: z.string().nullable().meta({ description: "An http(s) URL of the user's picture." }),
  })
  .meta({ id: "Profile", description: "How a user is shown: set by the app's back end." });

export const usersSchema = z.record(z.string(), profileSchema).meta({
  id: "Users",
  description:
    "The profiles of the users this answer names (senders, change authors, members), by user id; users without a profile are left out, and at most 500 are sent. Absent when none has one.",
});

export const threadItemSchema = z
  .object({
    id: z.string(),
    title: z.string().nullable(),
    members: z.array(z.string()),
    lastSeq: seq,
    lastReadSeq: seq,
    unread: z.int().min(0),
    lastMessage: messageSchema.nullable(),
  })
  .meta({ id: "ThreadItem", description: "One row of a user's thread list." });

export const threadPageSchema = z.object({
  conversations: z.array(threadItemSchema),
  nextCursor: z.string().nullable(),
  users: usersSchema.optional(),
});

export const conversationViewSchema = z
  .object({
    id: z.string(),
    title: z.string().nullable(),
    lastSeq: seq,
    members: z.array(z.object({ userId: z.string(), lastReadSeq: seq })),
  })
  .meta({ id: "Conversation" });

/** `POST /v1/conversations` answers the new conversation, with when it was created. */
export const createdConversationSchema = conversationViewSchema
  .extend({ createdAt: timestamp })
  .meta({ id: "CreatedConversation" });

export const historyPageSchema = z.object({
  messages: z.array(messageSchema),
  lastSeq: seq,
  hasMore: z.boolean(),
  users: usersSchema.optional(),
});

export const repliesPageSchema = z.object({
  messages: z.array(messageSchema),
  hasMore: z.boolean(),
  users: usersSchema.optional(),
});

export const logPageSchema = z.object({
  entries: z.array(logEntrySchema),
  lastSeq: seq,
  hasMore: z.boolean(),
  users: usersSchema.optional(),
});

export const webhookEndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).meta({ description: "Empty: every event type." }),
    status: z.enum(["active", "failing"]),
    createdAt: timestamp,
    failingSince: timestamp.optional(),
    lastError: z.string().optional(),
  })
  .meta({ id: "WebhookEndpoint" });

export const newWebhookEndpointSchema = webhookEndpointSchema
  .extend({ secret: z.string().meta({ description: "whsec_…: shown this once." }) })
  .meta({ id: "NewWebhookEndpoint" });

/** Every error code that answers with `status`, from the protocol's one table. */
export function codesFor(status: number): ErrorCode[] {
  return (Object.keys(ERROR_STATUS) as ErrorCode[]).filter((code) => ERROR_STATUS[code] === status);
}

const errorBodies = new Map<number, z.ZodType>();

/**
 * `{ "error": { "code", "message" } }` with the codes one status can carry; one schema per
 * status (a component id may name only one schema).
 */
export function errorBodySchema(status: number): z.ZodType {
  let schema = errorBodies.get(status);
  if (!schema) {
    schema = newErrorBodySchema(status);
    errorBodies.set(status, schema);
  }
  return schema;
}

function newErrorBodySchema(status: number) {
  const codes = codesFor(status);
  const [first, ...rest] = codes;
  if (!first) throw new Error(`no error code answers with ${status}`);
  return z
    .object({
      error: z.object({
        code: z.enum([first, ...rest]),
        message: z.string().meta({ description: "What went wrong, in words a developer can act on." }),
      }),
    })
    .meta({ id: `Error${status}` });
}

/** Every error code, for the document's overview. */
export const errorCodeSchema = z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]).meta({
  id: "ErrorCode",
});

// The schemas describe exactly the protocol's types: a field added on one side only fails here.
const checks: [
  Same<z.output<typeof messageSchema>, Message>,
  Same<z.output<typeof changeSchema>, Change>,
  Same<z.output<typeof logEntrySchema>, LogEntry>,
  Same<z.output<typeof threadItemSchema>, ThreadItem>,
  Same<z.output<typeof threadPageSchema>, ThreadPage>,
  Same<z.output<typeof conversationViewSchema>, ConversationView>,
  Same<z.output<typeof createdConversationSchema>, ConversationView & { createdAt: string }>,
  Same<z.output<typeof historyPageSchema>, HistoryPage>,
  Same<z.output<typeof repliesPageSchema>, RepliesPage>,
  Same<z.output<typeof logPageSchema>, LogPage>,
  Same<z.output<typeof webhookEndpointSchema>, WebhookEndpointView>,
  Same<z.output<typeof profileSchema>, Profile>,
  Same<z.output<typeof usersSchema>, Users>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true];
void checks;
