/**
 * The HTTP API's view of conversations hosted by actors (Durable Objects, PartyKit parties):
 * each room is reached by an RPC-like `call`, which the adapter implements with its runtime's
 * transport (Durable Object RPC, an internal fetch).
 */
import { ParleyError, storeRefusal } from "../core/errors.ts";
import type { OnError } from "../core/log.ts";
import { frames } from "../core/outbound-frame.ts";
import type { Store, ThreadCursor } from "../core/store.ts";
import type { Directory, EventStreamRequest, NewConversation } from "./directory.ts";
import { IDENTITY_HEADERS } from "./forwarded-identity.ts";
import type { InboxListenerIndex } from "./inbox-listeners.ts";
import { createConversation } from "./new-conversation.ts";
import { type Admission, type ListenCall, type RoomApi, type RoomCall, remoteRoom } from "./room-api.ts";
import { fromWire } from "./wire-errors.ts";

/** How a runtime reaches its actors. */
export interface Actors {
  /** A conversation's room actor: RPC calls, and forwarded requests (sockets, SSE). */
  room(app: string, conversationId: string): Promise<RoomActor>;
  /** Forwards an inbox socket to the user's inbox actor. */
  inbox(app: string, userId: string, request: Request): Promise<Response>;
  /**
   * Sends an encoded `thread` frame of a conversation to a user's inbox actor; resolves to
   * whether that inbox listens (a room drops an inbox that does not).
   */
  deliverToInbox(app: string, userId: string, conversationId: string, frameText: string): Promise<boolean>;
  /**
   * Readies a user's inbox actor for a socket: resolves once the rooms of the user's
   * conversations know that it listens (see party/edge/inbox-actor.ts).
   */
  prepareInbox(app: string, userId: string): Promise<void>;
  /**
   * A host-level call from an inbox actor to a room actor: the user's inbox listens there, or
   * no longer does. It reaches the actor without starting its room (no database read).
   */
  tellRoom(app: string, conversationId: string, method: ListenCall["method"], userId: string): Promise<void>;
  /**
   * Wakes a room actor's webhook delivery (its alarm), without starting its room: for events
   * no commit of the room announces (a conversation created, an endpoint resumed).
   */
  wakeWebhooks(app: string, conversationId: string): Promise<void>;
}

export interface RoomActor {
  call: RoomCall;
  fetch(request: Request): Promise<Response>;
}

/** Asks a room actor whether `userId` may attach. */
export async function actorAdmission(actor: RoomActor, userId: string): Promise<Admission> {
  return fromWire(await actor.call("admission", [userId])) as Admission;
}

/** The store as actor hosts use it: with the index of listening inboxes. */
export type ActorHostStore = Store & { readonly inboxListeners: InboxListenerIndex };

export class ActorDirectory implements Directory {
  constructor(
    private readonly actors: Actors,
    private readonly store: () => ActorHostStore,
    private readonly onError: OnError,
  ) {}

  async room(app: string, id: string): Promise<RoomApi> {
    const { call } = await this.actors.room(app, id);
    if (!fromWire(await call("exists", []))) throw new ParleyError("not_found", `no conversation "${id}"`);
    return remoteRoom(call);
  }

  async createConversation(app: string, input: NewConversation) {
    const { view, thread } = await createConversation(this.store(), app, input, this.onError);
    const frame = frames.thread(thread).text;
    // The members whose inbox listens hear of it, and each registers with the new room before it
    // answers, so the conversation's later thread frames reach it. The others' inbox actors are
    // not woken: one that opens later finds the conversation when it registers
    // (party/host/inbox-listeners.ts says why none is missed). The room's webhook delivery
    // hears of it too (`conversation.created`, when the app has endpoints).
    const memberIds = view.members.map(({ userId }) => userId);
    const listening = await this.store()
      .inboxListeners.among(app, memberIds)
      .catch((error: unknown) => {
        // Not knowing who listens, tell everyone: a wake too many, never a thread missed.
        this.onError(error, "reading the listening inboxes failed", { app, conversationId: view.id });
        return new Set(memberIds);
      });
    const told = await Promise.allSettled([
      this.actors.wakeWebhooks(app, view.id),
      ...memberIds
        .filter((userId) => listening.has(userId))
        .map((userId) => this.actors.deliverToInbox(app, userId, view.id, frame)),
    ]);
    if (told[0]?.status === "rejected")
      this.onError(told[0].reason, "waking the webhooks failed", { app, conversationId: view.id });
    return view;
  }

  listThreads(app: string, userId: string, page: { limit: number; cursor?: ThreadCursor | undefined }) {
    return this.store()
      .listThreads(app, userId, page)
      .catch(storeRefusal(this.onError, "listing threads failed", { app, userId }));
  }

  async openEventStream(request: EventStreamRequest): Promise<Response> {
    const actor = await this.actors.room(request.app, request.conversationId);
    const admission = await actorAdmission(actor, request.userId);
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
