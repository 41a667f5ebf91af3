/**
 * What one endpoint receives for one conversation: log entries and conversation events as
 * webhook events, each with a `webhook-id` that depends only on what it is (app, conversation,
 * entry seq or event id), so every retry, after any restart, carries the same id.
 */
import type { LogEntry, Recipients, WebhookEvent, WebhookEventType } from "../../../protocol/index.ts";
import { type WebhookHashes, webCryptoHashes } from "./hashes.ts";
import type { ConversationEventRecord } from "./webhook-store.ts";

/** An event on its way: its id, its type (for filters), its JSON body and when it happened. */
export interface OutgoingEvent {
  id: string;
  type: WebhookEventType;
  body: string;
  /** The event's `timestamp` (ISO 8601): delivery lag is measured from it. */
  timestamp: string;
}

/** `msg_` and 24 characters of base64url SHA-256 of what the event is. */
async function eventId(
  app: string,
  conversationId: string,
  what: string,
  hashes: WebhookHashes,
): Promise<string> {
  return `msg_${await hashes.idDigest(`${app}\u0000${conversationId}\u0000${what}`)}`;
}

/** The event type of a log entry. */
export function entryType(entry: LogEntry): WebhookEventType {
  if (entry.type === "message") return "message.created";
  switch (entry.change.kind) {
    case "edit":
      return "message.updated";
    case "delete":
      return "message.deleted";
    case "react":
      return "reaction.added";
    case "unreact":
      return "reaction.removed";
  }
}

/** A log entry as an event; a new message carries its recipients. */
export async function entryEvent(
  app: string,
  conversationId: string,
  entry: LogEntry,
  recipients: () => Recipients,
  hashes: WebhookHashes = webCryptoHashes,
): Promise<OutgoingEvent> {
  const type = entryType(entry);
  let event: WebhookEvent;
  if (entry.type === "message") {
    event = {
      type: "message.created",
      app,
      conversationId,
      seq: entry.message.seq,
      timestamp: entry.message.createdAt,
      data: { message: entry.message, recipients: recipients() },
    };
  } else {
    event = {
      type: type as Exclude<
        WebhookEventType,
        "message.created" | "member.added" | "member.removed" | "conversation.created"
      >,
      app,
      conversationId,
      seq: entry.change.seq,
      timestamp: entry.change.at,
      data: { change: entry.change, message: entry.message },
    };
  }
  const seq = entry.type === "message" ? entry.message.seq : entry.change.seq;
  return {
    id: await eventId(app, conversationId, `seq:${seq}`, hashes),
    type,
    body: JSON.stringify(event),
    timestamp: event.timestamp,
  };
}

/** A conversation event (created, member added or removed) as a webhook event. */
export async function conversationEvent(
  app: string,
  conversationId: string,
  record: ConversationEventRecord,
  hashes: WebhookHashes = webCryptoHashes,
): Promise<OutgoingEvent> {
  const event = {
    type: record.type,
    app,
    conversationId,
    timestamp: record.at,
    data: record.data,
  } as WebhookEvent;
  return {
    id: await eventId(app, conversationId, `event:${record.id}`, hashes),
    type: record.type,
    body: JSON.stringify(event),
    timestamp: record.at,
  };
}
