/**
 * How the HTTP API reaches conversations, whatever hosts them: rooms in this process (Node and
 * Deno, `local-directory.ts`) or actors reached by RPC (Durable Objects and PartyKit parties,
 * `actor-directory.ts`). Every method may be async, so the API awaits all of them.
 */
import type { ConversationView } from "../../protocol/index.ts";
import type { ThreadCursor } from "../core/store.ts";
import type { ThreadItem } from "../core/types.ts";
import type { RoomApi } from "./room-api.ts";

export type { ConversationView, RoomApi };

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
