/**
 * What the relay sends to an app's back end (CONTRACT.md v1.1, "Webhooks"): the events, their
 * payloads, the endpoints as `/v1/webhooks` shows them, and the pre-send hook's request and
 * answer. Plain data: the relay builds these, a receiver reads them.
 */
import type { Change, Message } from "./shapes.ts";

/** Every event type an endpoint may subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  "message.created",
  "message.updated",
  "message.deleted",
  "reaction.added",
  "reaction.removed",
  "member.added",
  "member.removed",
  "conversation.created",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * Who else was in the conversation when a message committed: `online` had a live connection
 * to the conversation (WebSocket, SSE stream, a long-poll waiting or answered within the last
 * few seconds) or to their inbox; `offline` did not. The sender is in neither.
 */
export interface Recipients {
  online: string[];
  offline: string[];
}

interface EventBase<T extends WebhookEventType, D> {
  type: T;
  app: string;
  conversationId: string;
  /** ISO-8601: when the event happened (the entry's commit), not when it was delivered. */
  timestamp: string;
  data: D;
}

/** A log entry's event: `seq` is the entry's. */
interface EntryEvent<T extends WebhookEventType, D> extends EventBase<T, D> {
  seq: number;
}

export type MessageCreatedEvent = EntryEvent<"message.created", { message: Message; recipients: Recipients }>;
/** An edit, a deletion or a reaction: the change, and its message's latest state. */
export type MessageChangeEvent = EntryEvent<
  "message.updated" | "message.deleted" | "reaction.added" | "reaction.removed",
  { change: Change; message: Message }
>;
export type MemberEvent = EventBase<"member.added" | "member.removed", { userId: string }>;
export type ConversationCreatedEvent = EventBase<
  "conversation.created",
  { conversation: { id: string; title: string | null; members: string[] } }
>;

/** One webhook delivery's JSON body. */
export type WebhookEvent = MessageCreatedEvent | MessageChangeEvent | MemberEvent | ConversationCreatedEvent;

/** `active`, or `failing`: paused after failing past the retry window, until `resume`. */
export type WebhookStatus = "active" | "failing";

/** An endpoint as `GET /v1/webhooks` shows it (the secret only when it is created). */
export interface WebhookEndpointView {
  id: string;
  url: string;
  /** The event types it gets; empty: all of them. */
  events: WebhookEventType[];
  status: WebhookStatus;
  createdAt: string;
  /** Set while deliveries fail: since when, and the last error. */
  failingSince?: string;
  lastError?: string;
}

/** What the pre-send hook receives (signed like a webhook): a send, or a member's edit. */
export type HookRequest = HookSendRequest | HookEditRequest;

/** A send, before it gets a seq. */
export interface HookSendRequest {
  type: "message.sending";
  app: string;
  conversationId: string;
  timestamp: string;
  data: {
    senderId: string;
    clientMessageId: string;
    body: string;
    meta?: Record<string, unknown>;
    replyTo?: number;
  };
}

/**
 * A member's edit of message `seq`, before it gets a seq: `body` and `meta` are the content the
 * message would have (the whole of it, not only the fields the edit sets). A rewrite replaces
 * that content. Edits made with the server key are not sent.
 */
export interface HookEditRequest {
  type: "message.editing";
  app: string;
  conversationId: string;
  timestamp: string;
  data: {
    senderId: string;
    seq: number;
    body: string;
    meta?: Record<string, unknown>;
  };
}

/** The hook's answer: `{}` accepts, `{ body?, meta? }` accepts rewritten, `{ reject }` refuses. */
export interface HookVerdict {
  body?: string;
  meta?: Record<string, unknown>;
  reject?: { message?: string };
}
