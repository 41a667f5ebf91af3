/** The API's view of conversations on Cloudflare: each one a Durable Object reached by RPC. */
import { getServerByName } from "partyserver";
import type {
  ConversationView,
  Directory,
  EventStreamRequest,
  NewConversation,
  RoomApi,
} from "../core/directory.ts";
import { ParleyError } from "../core/errors.ts";
import { randomId } from "../core/ids.ts";
import type { ThreadCursor } from "../core/store.ts";
import type { ThreadItem } from "../core/types.ts";
import { fromWire } from "../core/wire-errors.ts";
import type { ConversationServer } from "./conversation-server.ts";
import { type Env, IDENTITY_HEADERS, inboxName, roomName, workerConfig } from "./env.ts";

export class DurableDirectory implements Directory {
  constructor(private readonly env: Env) {}

  #stub(app: string, id: string) {
    return getServerByName<Env, ConversationServer>(this.env.Conversation, roomName(app, id));
  }

  async room(app: string, id: string): Promise<RoomApi> {
    const stub = await this.#stub(app, id);
    if (!fromWire(await stub.rpcExists())) throw new ParleyError("not_found", `no conversation "${id}"`);
    return {
      isMember: async (userId) => fromWire(await stub.rpcIsMember(userId)),
      send: async (senderId, input) => fromWire(await stub.rpcSend(senderId, input)),
      history: async (userId, query) => fromWire(await stub.rpcHistory(userId, query)),
      typing: async (userId) => fromWire(await stub.rpcTyping(userId)),
      markRead: async (userId, seq) => fromWire(await stub.rpcMarkRead(userId, seq)),
      presence: async (userId) => fromWire(await stub.rpcPresence(userId)),
      describe: async () => fromWire(await stub.rpcDescribe()) as ConversationView,
      addMember: async (userId, joinedAt) => fromWire(await stub.rpcAddMember(userId, joinedAt)),
      removeMember: async (userId) => fromWire(await stub.rpcRemoveMember(userId)),
    };
  }

  async createConversation(app: string, input: NewConversation) {
    const { store } = workerConfig(this.env);
    const now = new Date().toISOString();
    const id = input.id ?? randomId("c_");
    const members = [...new Set(input.members)];
    const conversation = { id, title: input.title ?? null, lastSeq: 0, createdAt: now, lastActivityAt: now };
    if (!(await store.createConversation(app, conversation, members))) {
      throw new ParleyError("conflict", `conversation "${id}" already exists`);
    }
    const item: ThreadItem = {
      id,
      title: conversation.title,
      members,
      lastSeq: 0,
      lastReadSeq: 0,
      unread: 0,
      lastMessage: null,
    };
    await Promise.allSettled(
      members.map((userId) =>
        this.env.Inbox.get(this.env.Inbox.idFromName(inboxName(app, userId))).deliver(item),
      ),
    );
    return {
      id,
      title: conversation.title,
      lastSeq: 0,
      createdAt: now,
      members: members.map((userId) => ({ userId, lastReadSeq: 0 })),
    };
  }

  listThreads(app: string, userId: string, page: { limit: number; cursor?: ThreadCursor | undefined }) {
    return workerConfig(this.env).store.listThreads(app, userId, page);
  }

  async openEventStream(request: EventStreamRequest): Promise<Response> {
    const stub = await this.#stub(request.app, request.conversationId);
    if (!fromWire(await stub.rpcExists()))
      throw new ParleyError("not_found", `no conversation "${request.conversationId}"`);
    if (!fromWire(await stub.rpcIsMember(request.userId))) {
      throw new ParleyError("forbidden", "you are not a member of this conversation");
    }
    const headers = new Headers({
      [IDENTITY_HEADERS.app]: request.app,
      [IDENTITY_HEADERS.user]: request.userId,
    });
    if (request.instanceId) headers.set(IDENTITY_HEADERS.instance, request.instanceId);
    const url = `https://conversation/events${request.after === undefined ? "" : `?after=${request.after}`}`;
    return stub.fetch(new Request(url, { headers, signal: request.signal })) as unknown as Promise<Response>;
  }
}
