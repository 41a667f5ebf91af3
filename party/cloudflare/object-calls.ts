/**
 * The calls between this runtime's objects that need no partyserver start: a room delivering a
 * `thread` frame to an inbox, the Worker readying an inbox before it forwards a socket, an
 * inbox telling a room that it listens, and the API waking a room's webhook delivery. Plain Durable Object RPC on a stub by name, so none of
 * them runs the callee's `onStart` (a room woken by `listen` does not load from libSQL).
 */
import { inboxName, roomName } from "../edge/config.ts";
import type { Actors } from "../host/actor-directory.ts";
import { fromWire } from "../host/wire-errors.ts";
import type { Env } from "./env.ts";

export function objectCalls(
  env: Env,
): Pick<Actors, "deliverToInbox" | "prepareInbox" | "tellRoom" | "wakeWebhooks"> {
  const inbox = (app: string, userId: string) => env.Inbox.get(env.Inbox.idFromName(inboxName(app, userId)));
  const room = (app: string, conversationId: string) =>
    env.Conversation.get(env.Conversation.idFromName(roomName(app, conversationId)));
  return {
    deliverToInbox: (app, userId, conversationId, frameText) =>
      inbox(app, userId).deliver(conversationId, frameText),
    async prepareInbox(app, userId) {
      await inbox(app, userId).prepare();
    },
    async tellRoom(app, conversationId, method, userId) {
      fromWire(await room(app, conversationId).rpc(method, [userId]));
    },
    async wakeWebhooks(app, conversationId) {
      fromWire(await room(app, conversationId).rpc("wakeWebhooks", []));
    },
  };
}
