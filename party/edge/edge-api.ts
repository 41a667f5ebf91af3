/**
 * The HTTP API on the edge, the same for the Worker and PartyKit's main party: the Hono app
 * over the actors the runtime reaches (`Actors`), with the configuration read once per isolate.
 */
import { createApi } from "../../api/app.ts";
import { ActorDirectory, type Actors } from "../host/actor-directory.ts";
import type { EdgeConfig } from "./config.ts";
import { edgeLog, edgeOnError } from "./log.ts";

const logError = edgeOnError();

/** What the runtime's entry point calls. */
export interface EdgeApi {
  fetch(request: Request): Promise<Response>;
}

/**
 * The API of one isolate; `widget` is the prebuilt widget bundle (`npm run build:widget`).
 * Before its first request is served, the configuration's webhook endpoints are in the store:
 * a conversation created by that request records `conversation.created` for them.
 */
export function edgeApi(config: EdgeConfig, actors: Actors, widget: string): EdgeApi {
  const api = createApi({
    directory: new ActorDirectory(actors, () => config.store, logError),
    auth: config.auth,
    profiles: config.profiles,
    limits: config.limits,
    origins: config.origins,
    devMode: config.devMode,
    onError: logError,
    log: edgeLog,
    widgetScript: async () => widget,
    webhooks: config.webhooks.admin((app, conversationId) => actors.wakeWebhooks(app, conversationId)),
  });
  return {
    async fetch(request) {
      // A store that cannot answer now fails this request's own reads and writes just the same;
      // the next request tries again.
      await config.webhooks
        .ready()
        .catch((error: unknown) => logError(error, "reading the webhook endpoints failed"));
      return api.fetch(request);
    },
  };
}
