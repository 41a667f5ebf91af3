/**
 * How the HTTP API reaches conversations, whatever hosts them: rooms in this process (the Node
 * and Deno hub) or Durable Objects reached by RPC (Cloudflare). Every method may be async, so
 * the API awaits all of them.
 */
import type { ConversationView, HistoryPage } from "../../protocol/index.ts";
import type { HistoryQuery, SendResult } from "./conversation-room.ts";
import type { ThreadCursor } from "./store.ts";
import type { SendInput, ThreadItem } from "./types.ts";

export type MaybePromise<T> = T | Promise<T>;

export type { ConversationView };

/** One conversation as the API sees it. Refusals are ParleyErrors. */
export interface RoomApi {
  isMember(userId: string): MaybePromise<boolean>;
  send(senderId: string, input: SendInput): Promise<SendResult>;
  history(userId: string, query: HistoryQuery): Promise<HistoryPage>;
  typing(userId: string): MaybePromise<void>;
  markRead(userId: string, seq: number): Promise<void>;
  presence(userId: string): MaybePromise<string[]>;
  describe(): MaybePromise<ConversationView>;
  addMember(userId: string, joinedAt: string): Promise<void>;
  removeMember(userId: string): Promise<void>;
}

export interface NewConversation {
  id?: string | undefined;
  title?: string | undefined;
  members: string[];
}

/** An SSE subscription, already authenticated. */
export interface EventStreamRequest {
  app: string;
  conversationId: string;
  userId: string;
  after: number | undefined;
  instanceId: string | undefined;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

export interface Directory {
  /** The conversation's room; 404 when there is none. */
  room(app: string, id: string): Promise<RoomApi>;
  /** Creates a conversation (409 when the id is taken) and tells its members' inboxes. */
  createConversation(app: string, input: NewConversation): Promise<ConversationView & { createdAt: string }>;
  /** A user's thread list, newest activity first. */
  listThreads(
    app: string,
    userId: string,
    page: { limit: number; cursor?: ThreadCursor | undefined },
  ): Promise<Array<ThreadItem & { lastActivityAt: string }>>;
  /** The SSE response for one subscriber (replay, synced, live). */
  openEventStream(request: EventStreamRequest): Promise<Response>;
}
