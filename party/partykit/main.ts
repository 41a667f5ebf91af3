/**
 * Parley on PartyKit: the Hono API is served from the main party's `onFetch` (every request
 * that is not `/parties/...`); conversations and inboxes are the parties `conversation` and
 * `inbox`, persisting to a libSQL server.
 */
import type * as Party from "partykit/server";
import { createApi } from "../../api/app.ts";
import { edgeConfig } from "../edge/config.ts";
import { EdgeDirectory } from "../edge/edge-directory.ts";
import { partykitActors } from "./actors.ts";

let api: ReturnType<typeof createApi> | undefined;

export default class MainParty implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onRequest() {
    return new Response("Not Found", { status: 404 });
  }

  static onFetch(req: Party.Request, lobby: Party.FetchLobby) {
    const config = edgeConfig(lobby.env);
    api ??= createApi({
      directory: new EdgeDirectory(partykitActors(lobby.parties, lobby.env), () => edgeConfig(lobby.env)),
      auth: config.auth,
      limits: config.limits,
      origins: config.origins,
      devMode: config.devMode,
      onError: (error, context) => console.error(`parley: ${context}`, error),
    });
    return api.fetch(req as unknown as Request) as unknown as Response;
  }
}
