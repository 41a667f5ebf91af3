/**
 * What webhook delivery needs from the store: the endpoints, one cursor per endpoint and
 * conversation, the conversation events that are not log entries, and the recipients recorded
 * with each message. Delivery reads the log itself through `Store.readLog`: the log is the
 * outbox, and these cursors are the only state delivery adds.
 */
import type { Recipients, WebhookEventType, WebhookStatus } from "../../../protocol/index.ts";

/** An endpoint as stored. */
export interface WebhookEndpointRecord {
  app: string;
  id: string;
  url: string;
  secret: string;
  /** Empty: every event type. */
  events: WebhookEventType[];
  status: WebhookStatus;
  lastError: string | null;
  /** ISO-8601: when its current run of failures began; null while it delivers. */
  failingSince: string | null;
  createdAt: string;
}

/** How far one endpoint got in one conversation: the log's seq and the events' id. */
export interface WebhookCursor {
  lastSeq: number;
  lastEvent: number;
}

/** A lane's cursor, and since when its next delivery fails (null while it delivers). */
export interface LaneState extends WebhookCursor {
  failingSince: string | null;
}

/**
 * Something that happened to a conversation outside its log, in its place: it is delivered
 * after the entry `afterSeq` and before the next one.
 */
export interface ConversationEventRecord {
  id: number;
  afterSeq: number;
  type: "conversation.created" | "member.added" | "member.removed";
  data: Record<string, unknown>;
  at: string;
}

/** One (endpoint, conversation) with something left to deliver. */
export interface PendingLane {
  app: string;
  endpointId: string;
  conversationId: string;
}

export interface WebhookStore {
  /** The endpoints of one app, or of every app. */
  listEndpoints(app?: string): Promise<WebhookEndpointRecord[]>;
  /**
   * Stores a new endpoint. It hears what happens from now on: its cursor in every existing
   * conversation starts at that conversation's present, in the same transaction.
   */
  createEndpoint(endpoint: WebhookEndpointRecord): Promise<void>;
  /**
   * An endpoint from the configuration (same id at every start): created as `createEndpoint`
   * does the first time, afterwards its url, secret and events follow the configuration.
   */
  upsertEndpoint(endpoint: WebhookEndpointRecord): Promise<void>;
  /** Removes an endpoint and its cursors; false when there was none. */
  deleteEndpoint(app: string, id: string): Promise<boolean>;
  /**
   * A lane's delivery failed at `now` (ISO): the lane and its endpoint remember since when and
   * why; a lane failing since `windowStart` or earlier pauses its endpoint. Returns the
   * endpoint's status afterwards.
   */
  laneFailed(
    app: string,
    endpointId: string,
    conversationId: string,
    error: string,
    now: string,
    windowStart: string,
  ): Promise<WebhookStatus>;
  /** A failing lane delivered again; its endpoint clears its failure when no lane fails any more. */
  laneRecovered(app: string, endpointId: string, conversationId: string): Promise<void>;
  /** Sets a paused endpoint `active` again with a fresh retry window; undefined when there is none. */
  resumeEndpoint(app: string, id: string): Promise<WebhookEndpointRecord | undefined>;
  /** Where an endpoint is in a conversation; a conversation it has no cursor in starts at 0. */
  readCursor(app: string, endpointId: string, conversationId: string): Promise<LaneState>;
  /** Moves a cursor (only ever forward). */
  advanceCursor(
    app: string,
    endpointId: string,
    conversationId: string,
    cursor: WebhookCursor,
  ): Promise<void>;
  /** A conversation's events with id above `afterId`, in order. */
  readEvents(
    app: string,
    conversationId: string,
    afterId: number,
    limit: number,
  ): Promise<ConversationEventRecord[]>;
  /** The recipients recorded with these messages (those recorded), by seq. */
  readRecipients(
    app: string,
    conversationId: string,
    seqs: readonly number[],
  ): Promise<Map<number, Recipients>>;
  /** The members of a conversation now (for a message committed without recipients). */
  readMemberIds(app: string, conversationId: string): Promise<string[]>;
  /** Active endpoints' lanes that are behind the log or the events (at most `limit`). */
  pendingLanes(limit: number, filter?: { app: string; endpointId?: string }): Promise<PendingLane[]>;
}
