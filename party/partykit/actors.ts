/**
 * How the PartyKit adapter reaches its actors: PartyKit has no Durable Object RPC, so the API
 * calls rooms and inboxes with internal HTTP requests. They carry `x-parley-internal` (the
 * server key), and parties refuse any request from outside without it.
 */
import type * as Party from "partykit/server";
import { edgeConfig, inboxName, roomName } from "../edge/config.ts";
import { gateSocket } from "../edge/socket-gate.ts";
import type { Actors } from "../host/actor-directory.ts";
import { fromWire, type WireResult } from "../host/wire-errors.ts";

export const INTERNAL_HEADER = "x-parley-internal";
/** Which call an internal request to an inbox party is: `prepare`, or `deliver <conversationId>`. */
export const INBOX_CALL_HEADER = "x-parley-inbox-call";

/** True for a request one of our own parties made (it carries the server key). */
export function isInternal(request: Request, env: Record<string, unknown>): boolean {
  const key = env.PARLEY_SERVER_KEY;
  return typeof key === "string" && key.length > 0 && request.headers.get(INTERNAL_HEADER) === key;
}

function internalHeaders(env: Record<string, unknown>, from?: Headers): Headers {
  const headers = new Headers(from);
  headers.set(INTERNAL_HEADER, String(env.PARLEY_SERVER_KEY ?? ""));
  return headers;
}

/**
 * A request forwarded to a party stub: same method, headers (plus the internal one) and body,
 * with the path naming the app's own room. PartyKit takes `room.id` from the URL, so a socket
 * that kept `/parties/conversation/<id>` would give the object the wrong (un-namespaced) name.
 */
function forward(request: Request, env: Record<string, unknown>, party: string, name: string): Request {
  const url = new URL(request.url);
  url.pathname = `/parties/${party}/${encodeURIComponent(name)}`;
  return new Request(url, new Request(request, { headers: internalHeaders(env, request.headers) }));
}

export function partykitActors(parties: Party.Context["parties"], env: Record<string, unknown>): Actors {
  const conversations = parties.conversation;
  const inboxes = parties.inbox;
  if (!conversations || !inboxes)
    throw new Error("parley (partykit): partykit.json must define the parties conversation and inbox");
  /** One call to a room party: an internal POST that the party answers with a WireResult. */
  const roomCall = async (app: string, id: string, method: string, args: unknown[]) => {
    const response = await conversations.get(roomName(app, id)).fetch({
      method: "POST",
      headers: internalHeaders(env, new Headers({ "content-type": "application/json", "x-parley-rpc": "1" })),
      body: JSON.stringify({ method, args }),
    });
    return (await response.json()) as WireResult<unknown>;
  };
  return {
    async room(app, id) {
      const stub = conversations.get(roomName(app, id));
      return {
        call: (method, args) => roomCall(app, id, method, args),
        fetch: (request) => stub.fetch(forward(request, env, "conversation", roomName(app, id))),
      };
    },
    inbox: (app, userId, request) =>
      inboxes.get(inboxName(app, userId)).fetch(forward(request, env, "inbox", inboxName(app, userId))),
    async deliverToInbox(app, userId, conversationId, frameText) {
      const response = await inboxes.get(inboxName(app, userId)).fetch({
        method: "POST",
        headers: internalHeaders(
          env,
          new Headers({
            "content-type": "application/json",
            [INBOX_CALL_HEADER]: `deliver ${conversationId}`,
          }),
        ),
        body: frameText,
      });
      return ((await response.json()) as { listening: boolean }).listening;
    },
    async prepareInbox(app, userId) {
      const response = await inboxes.get(inboxName(app, userId)).fetch({
        method: "POST",
        headers: internalHeaders(env, new Headers({ [INBOX_CALL_HEADER]: "prepare" })),
      });
      if (!response.ok) throw new Error(`inbox prepare answered ${response.status}`);
    },
    async tellRoom(app, conversationId, method, userId) {
      fromWire(await roomCall(app, conversationId, method, [userId]));
    },
    async wakeWebhooks(app, conversationId) {
      fromWire(await roomCall(app, conversationId, "wakeWebhooks", []));
    },
  };
}

/** `onBeforeConnect` of both parties: internal forwards pass; client sockets go through the gate. */
export async function beforeConnect(req: Party.Request, lobby: Party.Lobby): Promise<Party.Request> {
  const request = req as unknown as Request;
  if (isInternal(request, lobby.env)) return req;
  const answer = await gateSocket(request, edgeConfig(lobby.env), partykitActors(lobby.parties, lobby.env));
  return (answer ?? new Response("Not Found", { status: 404 })) as unknown as Party.Request;
}

/** `onBeforeRequest` of both parties: plain HTTP to a party is internal only (clients use the API). */
export function internalOnly(req: Party.Request, lobby: Party.Lobby): Party.Request {
  if (isInternal(req as unknown as Request, lobby.env)) return req;
  return new Response("Not Found", { status: 404 }) as unknown as Party.Request;
}

/**
 * Completes a closing handshake the client started. PartyKit's runtime (compatibility date
 * 2024-07-18) does not answer a client's close frame by itself, so without this the client
 * waits for the proxy to drop the connection (~20 s, then 1006). Its close code is not passed
 * to `onClose`, so the answer is a normal closure. A socket already closed throws: nothing to do.
 */
export function answerClose(conn: Party.Connection): void {
  try {
    conn.close(1000, "closed");
  } catch {
    // Already closed both ways.
  }
}
