/** Request helpers shared by the routes: who is asking, and what they sent. */
import type { Context } from "hono";
import type { z } from "zod";
import { ParleyError } from "../party/core/errors.ts";
import type { Limits } from "../party/core/limits.ts";
import type { LogFields, Logger, OnError } from "../party/core/log.ts";
import type { RateLimit } from "../party/core/metrics.ts";
import { conversationIdSchema, parseOrThrow } from "../party/core/validation.ts";
import type { Authenticator, Principal, ServerPrincipal, UserPrincipal } from "../party/host/auth.ts";
import type { Directory, RoomApi } from "../party/host/directory.ts";
import type { OriginPolicy } from "../party/host/origins.ts";
import type { Profiles } from "../party/host/profiles.ts";
import type { WebhookAdmin } from "../party/host/webhooks/endpoints.ts";
import type { ReadSlots } from "./bounded-reads.ts";
import type { DocsAssets } from "./docs-page.ts";
import { intQuerySchema, waitQuerySchema } from "./params.ts";
import type { WidgetBundle, WidgetScript } from "./widget-bundle.ts";

/**
 * `GET /metrics` and the request counts behind it: the host's metrics (Node and Deno, see
 * party/node/metrics.ts). Without them `/metrics` answers 404 and nothing is counted.
 */
export interface ApiMetrics {
  /** `/metrics` needs no credential (`PARLEY_METRICS_PUBLIC=1`); else any app's server key. */
  readonly public: boolean;
  /** The Prometheus text exposition, with its content type. */
  scrape(): Promise<{ contentType: string; text: string }>;
  /** One answered request: its method, its route's pattern (never the raw path) and its status. */
  request(method: string, route: string, status: number): void;
  /** A limit the API applies refused a request (`reads`). */
  rateLimited(limit: RateLimit): void;
}

/** Everything the API needs from its host. */
export interface ApiDeps {
  /** Where conversations live: this process's hub, or Durable Objects. */
  directory: Directory;
  auth: Authenticator;
  /** User profiles: `/v1/users/:userId/profile`, and the `users` maps of answers. */
  profiles: Profiles;
  limits: Limits;
  origins: OriginPolicy;
  /** Dev mode: `/v1/dev/token` exists. */
  devMode: boolean;
  onError: OnError;
  /** One line per request (see request-log.ts); without it, requests are not logged. */
  log?: Logger;
  /** False once the host has begun to shut the relay down: `/healthz` then answers 503. */
  serving?: () => boolean;
  /**
   * Charges `bytes` a user sent to their inbound budget; false when they are over it (429).
   * Single-process hosts keep one budget per user (see party/host/user-budgets.ts).
   */
  chargeInbound?: (app: string, userId: string, bytes: number) => boolean;
  /**
   * Counts one more open connection of a user (a held long-poll, like a socket or an SSE
   * stream) against their cap; returns its release, or null at the cap (429).
   */
  acquireConnection?: (app: string, userId: string) => (() => void) | null;
  /** The widget's script for `/widget.js` (bundled by the host); without it, `/widget.js` is 404. */
  widgetScript?: WidgetScript;
  /** `/v1/webhooks`: the host's webhook endpoints (without it, 404). */
  webhooks?: WebhookAdmin;
  /** Swagger UI's files for `GET /docs` (without them, `/docs` is 404; `/v1/openapi.json` is always there). */
  docs?: DocsAssets;
  /** The host's metrics (without them, `/metrics` is 404: the edge runtimes, `PARLEY_METRICS=0`). */
  metrics?: ApiMetrics | undefined;
}

/**
 * Read these with `c.get(name)`, not `c.var.name`: Hono builds a new object of every variable on
 * each `c.var` (Object.fromEntries), several times per request on the send path.
 */
export type ApiEnv = {
  Variables: {
    deps: ApiDeps;
    widget: (() => Promise<WidgetBundle>) | undefined;
    /** Reads on their way to each user (see bounded-reads.ts). */
    reads: ReadSlots;
    /** This request's log line, filled in as the request is understood (request-log.ts). */
    logLine: LogFields | undefined;
    /** The unexpected error a 5xx answered, for the request's log line. */
    failure: unknown;
  };
};
export type ApiContext = Context<ApiEnv>;

/** Adds a field to this request's log line (see request-log.ts): the principal, the conversation. */
export function noteForLog(c: ApiContext, fields: LogFields): void {
  const line = c.get("logLine");
  if (line) Object.assign(line, fields);
}

export async function principalOf(c: ApiContext): Promise<Principal> {
  return noted(c, await c.get("deps").auth.authenticate(c.req.header("authorization")));
}

/** Puts who asked on the request's log line: the app and the user id, never the credential. */
function noted<P extends Principal>(c: ApiContext, principal: P): P {
  noteForLog(
    c,
    principal.kind === "user" ? { app: principal.app, userId: principal.userId } : { app: principal.app },
  );
  return principal;
}

export async function userOf(c: ApiContext): Promise<UserPrincipal> {
  const principal = await principalOf(c);
  if (principal.kind !== "user")
    throw new ParleyError("forbidden", "this route needs a user token, not a server key");
  return principal;
}

export async function serverOf(c: ApiContext): Promise<ServerPrincipal> {
  const principal = await principalOf(c);
  if (principal.kind !== "server") throw new ParleyError("forbidden", "this route needs the server key");
  return principal;
}

/**
 * A user from `?token=` (sockets, SSE and long-polls, where browsers cannot set headers) or
 * from the Authorization header.
 */
export async function userFromQueryOrHeader(c: ApiContext): Promise<UserPrincipal> {
  const token = c.req.query("token");
  if (token) return noted(c, await c.get("deps").auth.verifyUserToken(token));
  return userOf(c);
}

export function conversationIdOf(c: ApiContext): string {
  const conversationId = parseOrThrow(conversationIdSchema, c.req.param("id"), "conversation id");
  noteForLog(c, { conversationId });
  return conversationId;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Reads a JSON body: 415 unless it says JSON, 400 when it is not valid UTF-8 or does not parse.
 * A user's body is charged to their inbound byte budget first (429 over it): parsing is the
 * work a flood would make the relay do.
 */
export async function jsonBody(c: ApiContext, principal?: Principal): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/(.+\+)?json\s*(;|$)/i.test(type)) {
    throw new ParleyError("unsupported_media_type", "send the body as JSON (Content-Type: application/json)");
  }
  const bytes = await c.req.arrayBuffer();
  if (
    principal?.kind === "user" &&
    c.get("deps").chargeInbound?.(principal.app, principal.userId, bytes.byteLength) === false
  ) {
    throw new ParleyError("rate_limited", "too many bytes sent; slow down", 1);
  }
  let text: string;
  try {
    // Invalid UTF-8 is refused, not stored as U+FFFD: the socket closes with 1007 for the same bytes.
    text = strictUtf8.decode(bytes);
  } catch {
    throw new ParleyError("bad_request", "the body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ParleyError("bad_request", "the body is not valid JSON");
  }
}

/** Parses a JSON body against a schema. */
export async function bodyOf<T>(
  c: ApiContext,
  schema: z.ZodType<T>,
  what: string,
  principal?: Principal,
): Promise<T> {
  return parseOrThrow(schema, await jsonBody(c, principal), what);
}

/** An optional non-negative integer query parameter; 400 when present and malformed. */
export function intQuery(c: ApiContext, name: string): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return undefined;
  if (!intQuerySchema.safeParse(raw).success)
    throw new ParleyError("bad_request", `${name} must be a non-negative integer`);
  return Number(raw);
}

/** `wait=N` of a long-poll in ms (N seconds, clamped to the longest wait); 0 without it. */
export function waitMsOf(c: ApiContext): number {
  const raw = c.req.query("wait");
  if (raw === undefined || raw === "") return 0;
  const wait = waitQuerySchema.safeParse(raw);
  if (!wait.success) throw new ParleyError("bad_request", "wait must be a number of seconds ≥ 0");
  return Math.min(wait.data, c.get("deps").limits.maxWaitSeconds) * 1000;
}

/** 403 unless `userId` is a member; checked before the body, so a non-member learns nothing from a 400. */
export async function requireMember(room: RoomApi, userId: string, who = "you are"): Promise<void> {
  if (!(await room.isMember(userId)))
    throw new ParleyError("forbidden", `${who} not a member of this conversation`);
}
