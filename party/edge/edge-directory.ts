/**
 * The HTTP API's view of conversations on the edge: each one an actor reached by an RPC-like
 * `call` (Durable Object RPC on Cloudflare, a fetch on PartyKit).
 */
import type {
  ConversationView,
  Directory,
  EventStreamRequest,
  NewConversation,
  RoomApi,
} from "../core/directory.ts";
import { ParleyError } from "../core/errors.ts";
import { createConversation } from "../core/new-conversation.ts";
import type { ThreadCursor } from "../core/store.ts";
import type { ThreadItem } from "../core/types.ts";
import { fromWire, type WireResult } from "../core/wire-errors.ts";
import { type EdgeConfig, IDENTITY_HEADERS } from "./config.ts";
import type { RoomMethod } from "./room-host.ts";

export type RoomCall = (method: RoomMethod, args: unknown[]) => Promise<WireResult<unknown>>;

/** How a runtime reaches its actors. */
export interface EdgeActors {
  /** Calls a method of a conversation's room. */
  room(
    app: string,
    conversationId: string,
  ): Promise<{ call: RoomCall; fetch(request: Request): Promise<Response> }>;
  /** Sends a thread item to a user's inbox actor. */
  deliverToInbox(app: string, userId: string, item: ThreadItem): Promise<void>;
}

/** RoomApi over a call function: every refusal comes back as a ParleyError. */
export function remoteRoom(call: RoomCall): RoomApi {
  const invoke = async <T>(method: RoomMethod, ...args: unknown[]) => fromWire(await call(method, args)) as T;
  return {
    isMember: (userId) => invoke("isMember", userId),
    send: (senderId, input) => invoke("send", senderId, input),
    history: (userId, query) => invoke("history", userId, query),
    typing: (userId) => invoke("typing", userId),
    markRead: (userId, seq) => invoke("markRead", userId, seq),
    presence: (userId) => invoke("presence", userId),
    describe: () => invoke<ConversationView>("describe"),
    addMember: (userId, joinedAt) => invoke("addMember", userId, joinedAt),
    removeMember: (userId) => invoke("removeMember", userId),
  };
}

export class EdgeDirectory implements Directory {
  constructor(
    private readonly actors: EdgeActors,
    private readonly config: () => EdgeConfig,
  ) {}

  async room(app: string, id: string): Promise<RoomApi> {
    const { call } = await this.actors.room(app, id);
    if (!fromWire(await call("exists", []))) throw new ParleyError("not_found", `no conversation "${id}"`);
    return remoteRoom(call);
  }

  async createConversation(app: string, input: NewConversation) {
    const { view, thread } = await createConversation(this.config().store, app, input, (error, context) =>
      console.error(`parley: ${context}`, error),
    );
    await Promise.allSettled(
      view.members.map(({ userId }) => this.actors.deliverToInbox(app, userId, thread)),
    );
    return view;
  }

  listThreads(app: string, userId: string, page: { limit: number; cursor?: ThreadCursor | undefined }) {
    return this.config().store.listThreads(app, userId, page);
  }

  async openEventStream(request: EventStreamRequest): Promise<Response> {
    const actor = await this.actors.room(request.app, request.conversationId);
    const admission = fromWire(await actor.call("admission", [request.userId]));
    if (admission === "not_found")
      throw new ParleyError("not_found", `no conversation "${request.conversationId}"`);
    if (admission === "forbidden")
      throw new ParleyError("forbidden", "you are not a member of this conversation");
    const headers = new Headers({
      [IDENTITY_HEADERS.app]: request.app,
      [IDENTITY_HEADERS.user]: request.userId,
    });
    if (request.instanceId) headers.set(IDENTITY_HEADERS.instance, request.instanceId);
    if (request.after !== undefined) headers.set(IDENTITY_HEADERS.after, String(request.after));
    const url = `https://conversation/events${request.after === undefined ? "" : `?after=${request.after}`}`;
    return actor.fetch(new Request(url, { headers, signal: request.signal }));
  }
}
