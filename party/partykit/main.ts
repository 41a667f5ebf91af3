/**
 * Parley on PartyKit: the Hono API is served from the main party's `onFetch` (every request
 * that is not `/parties/...`); conversations and inboxes are the parties `conversation` and
 * `inbox`, persisting to a libSQL server.
 */
import type * as Party from "partykit/server";
import { createApi } from "../../api/app.ts";
// Written by `npm run build:widget`, which PartyKit runs first (`build.command` in partykit.json).
import widget from "../../dist/edge/widget.js.txt";
import { edgeConfig } from "../edge/config.ts";
import { ActorDirectory } from "../host/actor-directory.ts";
import { partykitActors } from "./actors.ts";

const logError = (error: unknown, context: string) => console.error(`parley: ${context}`, error);
let api: ReturnType<typeof createApi> | undefined;

export default class MainParty implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onRequest() {
    return new Response("Not Found", { status: 404 });
  }

  static onFetch(req: Party.Request, lobby: Party.FetchLobby) {
    const config = edgeConfig(lobby.env);
    api ??= createApi({
      directory: new ActorDirectory(
        partykitActors(lobby.parties, lobby.env),
        () => edgeConfig(lobby.env).store,
        logError,
      ),
      auth: config.auth,
      limits: config.limits,
      origins: config.origins,
      devMode: config.devMode,
      onError: logError,
      widgetScript: async () => widget,
    });
    return api.fetch(req as unknown as Request) as unknown as Response;
  }
}
