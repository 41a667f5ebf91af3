/**
 * Parley on Cloudflare Workers: the Hono API in the Worker, each conversation and each inbox a
 * Durable Object (partyserver), persisting to a libSQL server. The Worker verifies tokens and
 * forwards sockets to the right object with the verified identity; the app is part of every
 * object's name, so tenants never share one.
 */
// Written by `npm run build:widget`, which wrangler runs first (`build.command` in wrangler.jsonc).
import widget from "../../dist/edge/widget.js.txt";
import { edgeConfig, inboxName, roomName } from "../edge/config.ts";
import { type EdgeApi, edgeApi } from "../edge/edge-api.ts";
import { gateSocket } from "../edge/socket-gate.ts";
import type { Actors } from "../host/actor-directory.ts";
import { ConversationServer } from "./conversation-server.ts";
import type { Env } from "./env.ts";
import { InboxServer } from "./inbox-server.ts";
import { objectCalls } from "./object-calls.ts";
import { withObjectName } from "./object-name.ts";

export { ConversationServer, InboxServer };

/** How this runtime reaches its actors: Durable Object stubs and RPC. */
function actorsOf(env: Env): Actors {
  return {
    // Plain stubs by name: the object starts itself on a fetch (partyserver) or an API call
    // (`ConversationServer.api`), so no `setName` round trip precedes each request. Every call
    // carries the object's name (object-name.ts).
    async room(app, id) {
      const namespace = env.Conversation as unknown as DurableObjectNamespace<ConversationServer>;
      const name = roomName(app, id);
      const stub = namespace.get(namespace.idFromName(name));
      return {
        call: (method, args) => stub.api(name, method, args),
        fetch: (request) => stub.fetch(withObjectName(request, name)) as unknown as Promise<Response>,
      };
    },
    async inbox(app, userId, request) {
      const namespace = env.Inbox as unknown as DurableObjectNamespace<InboxServer>;
      const name = inboxName(app, userId);
      const stub = namespace.get(namespace.idFromName(name));
      return stub.fetch(withObjectName(request, name)) as unknown as Promise<Response>;
    },
    ...objectCalls(env),
  };
}

let api: EdgeApi | undefined;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const config = edgeConfig(env);
    const socket = await gateSocket(request, config, actorsOf(env));
    if (socket) return socket;
    api ??= edgeApi(config, actorsOf(env), widget);
    return api.fetch(request);
  },
};
