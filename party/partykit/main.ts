/**
 * Parley on PartyKit: the Hono API is served from the main party's `onFetch` (every request
 * that is not `/parties/...`); conversations and inboxes are the parties `conversation` and
 * `inbox`, persisting to a libSQL server.
 */
import type * as Party from "partykit/server";
// Written by `npm run build:widget`, which PartyKit runs first (`build.command` in partykit.json).
import widget from "../../dist/edge/widget.js.txt";
import { edgeConfig } from "../edge/config.ts";
import { type EdgeApi, edgeApi } from "../edge/edge-api.ts";
import { partykitActors } from "./actors.ts";

let api: EdgeApi | undefined;

export default class MainParty implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onRequest() {
    return new Response("Not Found", { status: 404 });
  }

  static onFetch(req: Party.Request, lobby: Party.FetchLobby) {
    const config = edgeConfig(lobby.env);
    api ??= edgeApi(config, partykitActors(lobby.parties, lobby.env), widget);
    return api.fetch(req as unknown as Request) as unknown as Promise<Response>;
  }
}
