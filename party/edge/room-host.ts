/**
 * A conversation room inside an edge actor (a Durable Object via partyserver, or a PartyKit
 * party). The actor shells only translate their runtime's callbacks into these calls, so both
 * behave the same: the same room, rebuilt from libSQL on wake, hibernation-safe socket state,
 * SSE, and one RPC entry point for the HTTP API.
 */
import type { Connection, ConnectionIdentity } from "../core/connection.ts";
import { ConversationRoom, type Peer, type RoomEnvironment } from "../core/conversation-room.ts";
import { ParleyError } from "../core/errors.ts";
import { randomId } from "../core/ids.ts";
import { frames, type OutboundFrame } from "../core/outbound-frame.ts";
import { SseConnection } from "../core/sse-connection.ts";
import type { ThreadItem } from "../core/types.ts";
import { toWire, type WireResult } from "../core/wire-errors.ts";
import { type EdgeConfig, IDENTITY_HEADERS, splitName } from "./config.ts";

/** What both runtimes' server-side sockets offer (a WebSocket with an id and a state). */
export interface EdgeWebSocket {
  readonly id: string;
  readonly readyState: number;
  readonly state: unknown;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** A hibernatable socket behind the room's Connection interface. */
export class EdgeSocket implements Connection {
  constructor(readonly ws: EdgeWebSocket) {}

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

/** The verified identity the Worker put on a forwarded request. */
export function identityOf(headers: Headers): ConnectionIdentity {
  const app = headers.get(IDENTITY_HEADERS.app);
  const userId = headers.get(IDENTITY_HEADERS.user);
  if (!app || !userId)
    throw new ParleyError("unauthorized", "request did not come through the Parley worker");
  return { app, userId, instanceId: headers.get(IDENTITY_HEADERS.instance) ?? undefined };
}

/** `after` of a forwarded request: the gate's header, else the query string. */
function resumePoint(request: Request): string | null {
  return request.headers.get(IDENTITY_HEADERS.after) ?? new URL(request.url).searchParams.get("after");
}

/** The RoomApi methods the HTTP API may call over RPC. */
const CALLABLE = [
  "isMember",
  "send",
  "history",
  "typing",
  "markRead",
  "presence",
  "describe",
  "addMember",
  "removeMember",
] as const;
export type RoomMethod = (typeof CALLABLE)[number] | "exists" | "admission";

export class RoomHost {
  #room: ConversationRoom | null = null;
  #loading: Promise<ConversationRoom | null> | undefined;
  #peers = new Map<string, Peer>();

  constructor(
    /** The actor's name: `app:conversationId`. */
    private readonly name: string,
    private readonly config: () => EdgeConfig,
    /** Sends a thread item to a member's inbox actor. */
    private readonly deliverToInbox: (app: string, userId: string, item: ThreadItem) => void,
  ) {}

  /**
   * The room, loaded from libSQL on first use; null while the conversation does not exist.
   * Single-flight: a socket may connect while `onStart` is still loading (PartyKit does not
   * wait), and two loads would make two rooms, one of them with sockets that never hear.
   */
  load(): Promise<ConversationRoom | null> {
    if (this.#room) return Promise.resolve(this.#room);
    if (!this.#loading) {
      const { app, key } = splitName(this.name);
      this.#loading = ConversationRoom.load(app, key, this.#environment()).then(
        (room) => {
          this.#room = room;
          this.#loading = undefined;
          return room;
        },
        (error: unknown) => {
          this.#loading = undefined;
          throw error;
        },
      );
    }
    return this.#loading;
  }

  async #required(): Promise<ConversationRoom> {
    const room = await this.load();
    if (!room) throw new ParleyError("not_found", `no conversation "${splitName(this.name).key}"`);
    return room;
  }

  #environment(): RoomEnvironment {
    const { store, limits } = this.config();
    return {
      store,
      limits,
      // Inboxes are other actors: each one drops the frame when nobody listens.
      inbox: { isListening: () => true, deliver: this.deliverToInbox },
      onError: (error, context) => console.error(`parley: ${context}`, error),
      now: Date.now,
      defer: (fn) => setTimeout(fn, 0),
      newMessageId: () => randomId("m_"),
    };
  }

  /** After a wake: sockets kept through hibernation are live again (no replay: they had everything). */
  async start(kept: Iterable<EdgeWebSocket>): Promise<void> {
    const room = await this.load();
    if (!room) return;
    for (const ws of kept) {
      const identity = ws.state as ConnectionIdentity | null;
      // A socket that connected while this start was loading is already a peer: never twice.
      if (!identity || this.#peers.has(ws.id)) continue;
      const peer = room.adopt(new EdgeSocket(ws), identity);
      if (peer) this.#peers.set(ws.id, peer);
    }
    // One line per (re)start: after hibernation it shows the sockets that were kept.
    console.log(
      `parley: room ${this.name} started at seq ${room.lastSeq} with ${this.#peers.size} kept sockets`,
    );
  }

  /** A new socket, already admitted by the Worker; `remember` stores the identity in its attachment. */
  async connect(
    ws: EdgeWebSocket,
    request: Request,
    remember: (identity: ConnectionIdentity) => void,
  ): Promise<void> {
    const identity = identityOf(request.headers);
    const room = await this.#required();
    remember(identity);
    const after = resumePoint(request);
    const peer = room.connect(new EdgeSocket(ws), identity, after ? Number(after) : undefined);
    if (peer) this.#peers.set(ws.id, peer);
  }

  async message(ws: EdgeWebSocket, message: string | ArrayBuffer | ArrayBufferView): Promise<void> {
    const peer = this.#peers.get(ws.id);
    if (!peer || !this.#room) return;
    if (typeof message !== "string") {
      ws.send(frames.error("bad_frame", "binary frames are not supported; send JSON text").text);
      return;
    }
    await this.#room.receive(peer, message);
  }

  forget(ws: EdgeWebSocket): void {
    const peer = this.#peers.get(ws.id);
    if (!peer) return;
    this.#peers.delete(ws.id);
    this.#room?.leave(peer);
  }

  /** An SSE subscriber, forwarded by the Worker with the verified identity. */
  async events(request: Request): Promise<Response> {
    const room = await this.#required();
    const identity = identityOf(request.headers);
    const after = resumePoint(request);
    let peer: Peer | null = null;
    const connection = new SseConnection(this.config().limits.sseKeepAliveMs, () => {
      if (peer) room.leave(peer);
    });
    peer = room.connect(connection, identity, after ? Number(after) : undefined);
    request.signal.addEventListener("abort", () => connection.close(1001, "client went away"));
    return connection.response();
  }

  /** RPC from the HTTP API; refusals travel as data (see wire-errors.ts). */
  call(method: RoomMethod, args: unknown[]): Promise<WireResult<unknown>> {
    return toWire(async () => {
      if (method === "exists") return (await this.load()) !== null;
      if (method === "admission") {
        const room = await this.load();
        if (!room) return "not_found";
        return room.isMember(args[0] as string) ? "ok" : "forbidden";
      }
      if (!(CALLABLE as readonly string[]).includes(method))
        throw new ParleyError("bad_request", `no method ${method}`);
      const room = await this.#required();
      const fn = room[method] as (...a: unknown[]) => unknown;
      return fn.apply(room, args);
    });
  }
}
