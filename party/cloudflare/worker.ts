/**
 * Parley on Cloudflare Workers: the Hono API in the Worker, each conversation and each inbox a
 * Durable Object (partyserver), persisting to a libSQL server. The Worker verifies tokens and
 * forwards sockets to the right object with the verified identity; the app is part of every
 * object's name, so tenants never share one.
 */
import { getServerByName } from "partyserver";
import { createApi } from "../../api/app.ts";
import { originAllowed } from "../../api/origins.ts";
import { CloseCode, isParleyError } from "../core/errors.ts";
import { conversationIdSchema, userIdSchema } from "../core/validation.ts";
import { fromWire } from "../core/wire-errors.ts";
import { ConversationServer } from "./conversation-server.ts";
import { DurableDirectory } from "./durable-directory.ts";
import { type Env, IDENTITY_HEADERS, inboxName, roomName, workerConfig } from "./env.ts";
import { InboxServer } from "./inbox-server.ts";

export { ConversationServer, InboxServer };

let api: ReturnType<typeof createApi> | undefined;

/** Accepts the socket only to close it with a contract code (browsers cannot read HTTP statuses). */
function refuseSocket(code: number, reason: string): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  server.close(code, reason.slice(0, 120));
  return new Response(null, { status: 101, webSocket: client });
}

async function handleSocket(request: Request, env: Env): Promise<Response> {
  const config = workerConfig(env);
  const url = new URL(request.url);
  const match = /^\/parties\/(conversation|inbox)\/([^/]+)\/?$/.exec(url.pathname);
  const name = match?.[2] ? decodeURIComponent(match[2]) : undefined;
  const kind = match?.[1];
  const valid =
    kind === "conversation"
      ? conversationIdSchema.safeParse(name).success
      : userIdSchema.safeParse(name).success;
  if (!name || !valid) return new Response("Not Found", { status: 404 });
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket")
    return new Response("Upgrade Required", { status: 426 });
  if (!originAllowed(request.headers.get("origin"), config.origins))
    return new Response("Forbidden", { status: 403 });
  const token = url.searchParams.get("token");
  if (!token) return refuseSocket(CloseCode.unauthorized, "missing token query parameter");
  let user: Awaited<ReturnType<typeof config.auth.verifyUserToken>>;
  try {
    user = await config.auth.verifyUserToken(token);
  } catch (error) {
    return refuseSocket(CloseCode.unauthorized, isParleyError(error) ? error.message : "bad token");
  }
  const after = url.searchParams.get("after");
  if (after !== null && after !== "" && !/^\d{1,15}$/.test(after))
    return refuseSocket(1008, "after must be a non-negative integer");
  const headers = new Headers(request.headers);
  for (const header of Object.values(IDENTITY_HEADERS)) headers.delete(header);
  headers.set(IDENTITY_HEADERS.app, user.app);
  headers.set(IDENTITY_HEADERS.user, user.userId);
  const instance = url.searchParams.get("_pk");
  if (instance) headers.set(IDENTITY_HEADERS.instance, instance);
  if (kind === "inbox") {
    if (name !== user.userId) return refuseSocket(CloseCode.forbidden, "you may open only your own inbox");
    const inbox = await getServerByName<Env, InboxServer>(env.Inbox, inboxName(user.app, name));
    return inbox.fetch(new Request(request, { headers })) as unknown as Response;
  }
  // Refusals are decided here, before the upgrade reaches the object: a socket closed inside
  // the object's onConnect never completes its close handshake on workerd.
  const room = await getServerByName<Env, ConversationServer>(env.Conversation, roomName(user.app, name));
  const admission = fromWire(await room.rpcAdmission(user.userId));
  if (admission === "not_found") return refuseSocket(CloseCode.notFound, "no such conversation");
  if (admission === "forbidden")
    return refuseSocket(CloseCode.forbidden, "not a member of this conversation");
  return room.fetch(new Request(request, { headers })) as unknown as Response;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname.startsWith("/parties/")) return handleSocket(request, env);
    const config = workerConfig(env);
    api ??= createApi({
      directory: new DurableDirectory(env),
      auth: config.auth,
      limits: config.limits,
      origins: config.origins,
      devMode: config.devMode,
      onError: (error, context) => console.error(`parley: ${context}`, error),
    });
    return api.fetch(request);
  },
};
