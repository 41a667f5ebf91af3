/**
 * The calls between this runtime's objects that need no partyserver start: a room delivering a
 * `thread` frame to an inbox, the Worker readying an inbox before it forwards a socket, an
 * inbox telling a room that it listens, and the API waking a room's webhook delivery. Plain Durable Object RPC on a stub by name, so none of
 * them runs the callee's `onStart` (a room woken by `listen` does not load from libSQL). Each
 * passes the callee's name (see object-name.ts).
 */
import { inboxName, roomName } from "../edge/config.ts";
import type { Actors } from "../host/actor-directory.ts";
import { fromWire } from "../host/wire-errors.ts";
import type { Env } from "./env.ts";

export function objectCalls(
  env: Env,
): Pick<Actors, "deliverToInbox" | "prepareInbox" | "tellRoom" | "wakeWebhooks"> {
  const inbox = (name: string) => env.Inbox.get(env.Inbox.idFromName(name));
  const room = (name: string) => env.Conversation.get(env.Conversation.idFromName(name));
  return {
    deliverToInbox(app, userId, conversationId, frameText) {
      const name = inboxName(app, userId);
      return inbox(name).deliver(name, conversationId, frameText);
    },
    async prepareInbox(app, userId) {
      const name = inboxName(app, userId);
      await inbox(name).prepare(name);
    },
    async tellRoom(app, conversationId, method, userId) {
      const name = roomName(app, conversationId);
      fromWire(await room(name).rpc(name, method, [userId]));
    },
    async wakeWebhooks(app, conversationId) {
      const name = roomName(app, conversationId);
      fromWire(await room(name).rpc(name, "wakeWebhooks", []));
    },
  };
}
