/**
 * One conversation as the HTTP API sees it, and the RPC surface of a room actor. The list of
 * callable methods is derived from this one interface (a method missing from `ROOM_METHODS`
 * does not compile), and both ends of the RPC are built from that list: `remoteRoom` on the
 * caller's side, `callRoom` on the actor's.
 */
import type { ConversationView, HistoryPage, LogPage, RepliesPage } from "../../protocol/index.ts";
import type { Actor, HistoryQuery, SendResult, Viewer } from "../core/conversation-room.ts";
import { ParleyError } from "../core/errors.ts";
import type { EditFields, SendInput } from "../core/types.ts";
import { fromWire, type WireResult } from "./wire-errors.ts";

export type MaybePromise<T> = T | Promise<T>;

/** One conversation as the API sees it. Refusals are ParleyErrors. */
export interface RoomApi {
  isMember(userId: string): MaybePromise<boolean>;
  send(senderId: string, input: SendInput): Promise<SendResult>;
  history(userId: string, query: HistoryQuery): Promise<HistoryPage>;
  logPage(
    viewer: Viewer,
    query: { after: number; limit: number; waitMs?: number | undefined; signal?: AbortSignal | undefined },
  ): Promise<LogPage>;
  replies(userId: string, seq: number, query: { after: number; limit: number }): Promise<RepliesPage>;
  edit(actor: Actor, seq: number, fields: EditFields): Promise<SendResult>;
  deleteMessage(actor: Actor, seq: number): Promise<SendResult>;
  react(userId: string, seq: number, key: string): Promise<SendResult>;
  unreact(userId: string, seq: number, key: string): Promise<SendResult>;
  typing(userId: string): MaybePromise<void>;
  markRead(userId: string, seq: number): Promise<void>;
  presence(userId: string): MaybePromise<string[]>;
  describe(): MaybePromise<ConversationView>;
  addMember(userId: string, joinedAt: string): Promise<void>;
  removeMember(userId: string): Promise<void>;
}

export type RoomMethod = keyof RoomApi;

/** Every method of RoomApi, as a value (RPC needs names at run time). */
export const ROOM_METHODS = [
  "isMember",
  "send",
  "history",
  "logPage",
  "replies",
  "edit",
  "deleteMessage",
  "react",
  "unreact",
  "typing",
  "markRead",
  "presence",
  "describe",
  "addMember",
  "removeMember",
] as const satisfies readonly RoomMethod[];

// A method added to RoomApi but not listed above is a compile error here.
type Unlisted = Exclude<RoomMethod, (typeof ROOM_METHODS)[number]>;
const everyMethodListed: [Unlisted] extends [never] ? true : never = true;
void everyMethodListed;

const callable = new Set<string>(ROOM_METHODS);
export const isRoomMethod = (name: string): name is RoomMethod => callable.has(name);

/** Whether a socket or stream of `userId` may attach to the conversation. */
export type Admission = "ok" | "not_found" | "forbidden";

/**
 * What a room actor answers over RPC: the room's own methods, plus two the host answers
 * even when the conversation does not exist, and three that only edge actors make and answer
 * (`party/edge/room-actor.ts`): an inbox actor telling a room that its user's inbox listens, or
 * no longer does, and the API waking a room's webhook delivery. Those never load the room (they touch only the actor's own storage), so
 * an inbox that registers with a thousand rooms never reads the database through them.
 */
export type ActorCall =
  | { method: RoomMethod; args: unknown[] }
  | { method: "exists"; args: [] }
  | { method: "admission"; args: [userId: string] }
  | { method: "listen"; args: [userId: string] }
  | { method: "unlisten"; args: [userId: string] }
  | { method: "wakeWebhooks"; args: [] };

/** The host-level calls an inbox actor makes on its user's rooms. */
export type ListenCall = Extract<ActorCall, { method: "listen" | "unlisten" }>;

/** The arguments of one actor call, by its method. */
export type ActorArgs<M extends ActorCall["method"]> = Extract<ActorCall, { method: M }>["args"];

/** Sends one call to a room actor; refusals come back as data (see wire-errors.ts). */
export type RoomCall = <M extends ActorCall["method"]>(
  method: M,
  args: ActorArgs<M>,
) => Promise<WireResult<unknown>>;

/**
 * An argument as it can travel: a query's `signal` (an AbortSignal, the client went away) stays
 * on this side, since it cannot be sent to another actor; the actor's wait ends at its time.
 */
function wireArg(arg: unknown): unknown {
  if (arg === null || typeof arg !== "object" || !("signal" in arg)) return arg;
  const { signal: _local, ...rest } = arg as Record<string, unknown>;
  return rest;
}

/** RoomApi over an RPC call: every method of the list, every refusal rethrown as a ParleyError. */
export function remoteRoom(call: RoomCall): RoomApi {
  const room: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const method of ROOM_METHODS) {
    room[method] = async (...args: unknown[]) => fromWire(await call(method, args.map(wireArg)));
  }
  return room as unknown as RoomApi;
}

/** Runs one RoomApi method named by an RPC call against a local room. */
export function invokeRoom(room: RoomApi, method: string, args: unknown[]): unknown {
  if (!isRoomMethod(method)) throw new ParleyError("bad_request", `no room method ${method}`);
  const fn = room[method] as (...a: unknown[]) => unknown;
  return fn.apply(room, args);
}
