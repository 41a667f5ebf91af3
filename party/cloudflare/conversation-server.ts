/**
 * One conversation as a Durable Object (partyserver `Server`), hosting the same runtime-free
 * `ConversationRoom` as Node. Hibernation is on: each socket's identity lives in its attachment,
 * the room is rebuilt from libSQL when the object wakes, and `{"type":"ping"}` is answered by the
 * runtime without waking it.
 */
import { type Connection as PartyConnection, Server, type WSMessage } from "partyserver";
import type { Connection, ConnectionIdentity } from "../core/connection.ts";
import {
  ConversationRoom,
  type HistoryQuery,
  type Peer,
  type RoomEnvironment,
} from "../core/conversation-room.ts";
import { CloseCode, ParleyError } from "../core/errors.ts";
import { randomId } from "../core/ids.ts";
import { frames, type OutboundFrame } from "../core/outbound-frame.ts";
import { SseConnection } from "../core/sse-connection.ts";
import type { SendInput, ThreadItem } from "../core/types.ts";
import { toWire } from "../core/wire-errors.ts";
import { type Env, IDENTITY_HEADERS, inboxName, splitName, workerConfig } from "./env.ts";

/** A hibernatable WebSocket behind the room's Connection interface. */
class DurableSocket implements Connection {
  constructor(readonly ws: PartyConnection) {}

  get id(): string {
    return this.ws.id;
  }

  send(frame: OutboundFrame): void {
    try {
      this.ws.send(frame.text);
    } catch {
      // closed meanwhile: the close handler forgets the peer
    }
  }

  close(code: number, reason: string): void {
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      // already closed
    }
  }

  /** workerd does not expose a socket's send buffer; the platform applies its own limits. */
  get bufferedAmount(): number {
    return 0;
  }

  get closed(): boolean {
    return this.ws.readyState >= 2;
  }
}

/** The verified identity the Worker put on the forwarded request. */
export function identityOf(headers: Headers): ConnectionIdentity {
  const app = headers.get(IDENTITY_HEADERS.app);
  const userId = headers.get(IDENTITY_HEADERS.user);
  if (!app || !userId)
    throw new ParleyError("unauthorized", "request did not come through the Parley worker");
  return { app, userId, instanceId: headers.get(IDENTITY_HEADERS.instance) ?? undefined };
}

export class ConversationServer extends Server<Env> {
  static override options = { hibernate: true };
  #room: ConversationRoom | null = null;
  #peers = new Map<string, Peer>();

  override async onStart(): Promise<void> {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    const room = await this.#load();
    if (!room) return;
    // Sockets kept through hibernation: live again, no replay (they had everything).
    for (const ws of this.getConnections()) {
      const identity = ws.state as ConnectionIdentity | null;
      if (!identity) continue;
      const peer = room.adopt(new DurableSocket(ws), identity);
      if (peer) this.#peers.set(ws.id, peer);
    }
    // One line per (re)start: after hibernation this shows the sockets that were kept.
    console.log(`parley: room ${this.name} started at seq ${room.lastSeq} with ${this.#peers.size} kept sockets`);
  }

  /** The room, loaded from libSQL on first use; null while the conversation does not exist. */
  async #load(): Promise<ConversationRoom | null> {
    if (this.#room) return this.#room;
    const { app, key } = splitName(this.name);
    this.#room = await ConversationRoom.load(app, key, this.#environment());
    return this.#room;
  }

  async #required(): Promise<ConversationRoom> {
    const room = await this.#load();
    if (!room) throw new ParleyError("not_found", `no conversation "${splitName(this.name).key}"`);
    return room;
  }

  #environment(): RoomEnvironment {
    const config = workerConfig(this.env);
    return {
      store: config.store,
      limits: config.limits,
      inbox: {
        // Inboxes are other objects: ask each member's, it drops the frame when nobody listens.
        isListening: () => true,
        deliver: (app: string, userId: string, item: ThreadItem) => {
          const stub = this.env.Inbox.get(this.env.Inbox.idFromName(inboxName(app, userId)));
          this.ctx.waitUntil(
            stub.deliver(item).catch((e: unknown) => console.error("parley: inbox delivery", e)),
          );
        },
      },
      onError: (error, context) => console.error(`parley: ${context}`, error),
      now: Date.now,
      defer: (fn) => setTimeout(fn, 0),
      newMessageId: () => randomId("m_"),
    };
  }

  override async onConnect(ws: PartyConnection, ctx: { request: Request }): Promise<void> {
    const identity = identityOf(ctx.request.headers);
    const room = await this.#load();
    if (!room) {
      new DurableSocket(ws).close(CloseCode.notFound, "no such conversation");
      return;
    }
    ws.setState(identity);
    const after = new URL(ctx.request.url).searchParams.get("after");
    const peer = room.connect(new DurableSocket(ws), identity, after ? Number(after) : undefined);
    if (peer) this.#peers.set(ws.id, peer);
  }

  override async onMessage(ws: PartyConnection, message: WSMessage): Promise<void> {
    const peer = this.#peers.get(ws.id);
    if (!peer || !this.#room) return;
    if (typeof message !== "string") {
      ws.send(frames.error("bad_frame", "binary frames are not supported; send JSON text").text);
      return;
    }
    await this.#room.receive(peer, message);
  }

  override onClose(ws: PartyConnection): void {
    this.#forget(ws.id);
  }

  override onError(ws: PartyConnection): void {
    this.#forget(ws.id);
  }

  #forget(id: string): void {
    const peer = this.#peers.get(id);
    if (!peer) return;
    this.#peers.delete(id);
    this.#room?.leave(peer);
  }

  /** SSE subscribers: `GET …/events` forwarded by the Worker with the verified identity. */
  override async onRequest(request: Request): Promise<Response> {
    const room = await this.#required();
    const identity = identityOf(request.headers);
    const after = new URL(request.url).searchParams.get("after");
    let peer: Peer | null = null;
    const connection = new SseConnection(workerConfig(this.env).limits.sseKeepAliveMs, () => {
      if (peer) room.leave(peer);
    });
    peer = room.connect(connection, identity, after ? Number(after) : undefined);
    request.signal.addEventListener("abort", () => connection.close(1001, "client went away"));
    return connection.response();
  }

  // ---- RoomApi over RPC (refusals travel as data: see wire-errors.ts) -----------------------

  /** Whether a socket of `userId` may join: checked by the Worker before it forwards the upgrade. */
  rpcAdmission(userId: string) {
    return toWire(async () => {
      const room = await this.#load();
      if (!room) return "not_found" as const;
      return room.isMember(userId) ? ("ok" as const) : ("forbidden" as const);
    });
  }
  rpcExists() {
    return toWire(async () => (await this.#load()) !== null);
  }
  rpcIsMember(userId: string) {
    return toWire(async () => (await this.#required()).isMember(userId));
  }
  rpcSend(senderId: string, input: SendInput) {
    return toWire(async () => (await this.#required()).send(senderId, input));
  }
  rpcHistory(userId: string, query: HistoryQuery) {
    return toWire(async () => (await this.#required()).history(userId, query));
  }
  rpcTyping(userId: string) {
    return toWire(async () => (await this.#required()).typing(userId));
  }
  rpcMarkRead(userId: string, seq: number) {
    return toWire(async () => (await this.#required()).markRead(userId, seq));
  }
  rpcPresence(userId: string) {
    return toWire(async () => (await this.#required()).presence(userId));
  }
  rpcDescribe() {
    return toWire(async () => (await this.#required()).describe());
  }
  rpcAddMember(userId: string, joinedAt: string) {
    return toWire(async () => (await this.#required()).addMember(userId, joinedAt));
  }
  rpcRemoveMember(userId: string) {
    return toWire(async () => (await this.#required()).removeMember(userId));
  }
}
