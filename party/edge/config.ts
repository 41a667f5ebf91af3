/**
 * Configuration of the edge adapters (Cloudflare Workers, PartyKit), read from their variables
 * once per isolate, and the names that keep every actor inside its app.
 */

import { LibsqlStore } from "../../store/libsql-store.ts";
import { DEFAULT_DB_TIMEOUT_MS, openWebStore } from "../../store/open-web.ts";
import {
  decimalNumber,
  defaultLimits,
  inconsistentLimits,
  type Limits,
  limitsFromEnv,
} from "../core/limits.ts";
import { appsWebhookConfig, checkAppCredentials, parseApps } from "../host/apps-config.ts";
import { type AppCredentials, Authenticator } from "../host/auth.ts";
import { normaliseOrigins, type OriginPolicy } from "../host/origins.ts";
import { Profiles } from "../host/profiles.ts";
import { type AppWebhookConfig, defaultAppWebhooks } from "../host/webhooks/config.ts";
import { EdgeWebhooks } from "./edge-webhooks.ts";
import { setEdgeLogLevel } from "./log.ts";

/** The variables the edge adapters read (README's configuration table, edge subset). */
export interface EdgeVars {
  PARLEY_DB_URL?: string;
  PARLEY_DB_AUTH_TOKEN?: string;
  PARLEY_SECRET?: string;
  PARLEY_SERVER_KEY?: string;
  PARLEY_APPS?: string;
  PARLEY_ALLOWED_ORIGINS?: string;
  /** "1" in the dev scripts: dev endpoints (`/v1/dev/token`) on, localhost origins allowed. */
  PARLEY_DEV?: string;
  /** The default app's webhook endpoint and pre-send hook (see README, "Your back end"). */
  PARLEY_WEBHOOK_URL?: string;
  PARLEY_WEBHOOK_SECRET?: string;
  PARLEY_WEBHOOK_EVENTS?: string;
  PARLEY_HOOK_URL?: string;
  PARLEY_HOOK_SECRET?: string;
  PARLEY_HOOK_ON_FAILURE?: string;
  /** "1": endpoints registered through `/v1/webhooks` may point at private addresses in production. */
  PARLEY_WEBHOOK_ALLOW_PRIVATE?: string;
  /** `debug` | `info` | `warn` | `error` | `silent` (default info): JSON lines on the console. */
  PARLEY_LOG?: string;
  /**
   * Where a room's commit is durable before it is acknowledged: `room` (default), the room
   * actor's own storage, flushed to libSQL behind it (see party/edge/room-wal.ts); `libsql`,
   * libSQL itself (every ack waits for a round trip to the database).
   */
  PARLEY_EDGE_COMMIT?: string;
  /** The longest one call to the libSQL server may take, in ms (default 10000): then a 503. */
  PARLEY_DB_TIMEOUT_MS?: string;
}

/** Where a room's commit is durable before it is acknowledged (PARLEY_EDGE_COMMIT). */
export type EdgeCommit = "room" | "libsql";

export interface EdgeConfig {
  /** The isolate's store: the API's and the inboxes' reads and writes. */
  store: LibsqlStore;
  /**
   * A store of a room actor's own over the same client: its group commit gathers only that
   * room's batches. One group commit shared by the objects of an isolate would have one
   * object await a write another object's request started, and workerd never settles that
   * promise for it: the request hangs until the runtime cancels it.
   */
  roomStore(): LibsqlStore;
  auth: Authenticator;
  /** User profiles (the same libSQL store; token claims are applied when a token is first seen). */
  profiles: Profiles;
  limits: Limits;
  origins: OriginPolicy;
  devMode: boolean;
  /** Webhooks and pre-send hooks (the configuration's, and `/v1/webhooks`). */
  webhooks: EdgeWebhooks;
  commit: EdgeCommit;
}

let cached: EdgeConfig | undefined;

/** Reads the configuration once per isolate; one clear error when something is missing. */
export function edgeConfig(vars: EdgeVars & Record<string, unknown>): EdgeConfig {
  if (cached) return cached;
  setEdgeLogLevel(typeof vars.PARLEY_LOG === "string" ? vars.PARLEY_LOG : undefined);
  if (!vars.PARLEY_SECRET || !vars.PARLEY_SERVER_KEY) {
    throw new Error(
      "parley (edge): set PARLEY_SECRET and PARLEY_SERVER_KEY (secrets in production, --var in dev)",
    );
  }
  if (!vars.PARLEY_DB_URL)
    throw new Error("parley (edge): set PARLEY_DB_URL to a libSQL server (Turso, or sqld)");
  const strings = Object.fromEntries(
    Object.entries(vars).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
  const limits = {
    ...defaultLimits,
    ...limitsFromEnv(strings, (sentence) => new Error(`parley (edge): ${sentence}`)),
  };
  let credentials: AppCredentials[];
  let backEnds: Map<string, AppWebhookConfig>;
  try {
    const apps = vars.PARLEY_APPS ? parseApps(vars.PARLEY_APPS, "PARLEY_APPS") : [];
    credentials = [
      { id: "default", secret: vars.PARLEY_SECRET, serverKey: vars.PARLEY_SERVER_KEY },
      ...apps.map(({ id, secret, serverKey }) => ({ id, secret, serverKey })),
    ];
    checkAppCredentials(credentials);
    const defaults = defaultAppWebhooks(strings);
    backEnds = appsWebhookConfig(apps);
    if (defaults.webhooks.length > 0 || defaults.hook) backEnds.set("default", defaults);
  } catch (error) {
    throw new Error(`parley (edge): ${(error as Error).message}`);
  }
  const limitProblem = inconsistentLimits(limits);
  if (limitProblem) throw new Error(`parley (edge): ${limitProblem}`);
  const devMode = vars.PARLEY_DEV === "1";
  const commit = vars.PARLEY_EDGE_COMMIT ?? "room";
  if (commit !== "room" && commit !== "libsql")
    throw new Error(`parley (edge): PARLEY_EDGE_COMMIT must be "room" or "libsql", not "${commit}"`);
  let allowed: string[] | undefined;
  try {
    allowed =
      // Empty is unset, as on Node.
      !vars.PARLEY_ALLOWED_ORIGINS ? undefined : normaliseOrigins(vars.PARLEY_ALLOWED_ORIGINS.split(","));
  } catch (error) {
    throw new Error(`parley (edge): ${(error as Error).message}`);
  }
  const dbTimeoutMs = vars.PARLEY_DB_TIMEOUT_MS
    ? decimalNumber(vars.PARLEY_DB_TIMEOUT_MS)
    : DEFAULT_DB_TIMEOUT_MS;
  if (!Number.isInteger(dbTimeoutMs) || dbTimeoutMs < 100 || dbTimeoutMs > 600_000)
    throw new Error("parley (edge): PARLEY_DB_TIMEOUT_MS must be a whole number of ms from 100 to 600000");
  const store = openWebStore(vars.PARLEY_DB_URL, vars.PARLEY_DB_AUTH_TOKEN, dbTimeoutMs);
  const publicOnly = !devMode && vars.PARLEY_WEBHOOK_ALLOW_PRIVATE !== "1";
  const profiles = new Profiles(() => store, {
    allowHttp: devMode,
    onError: (error, context) => console.error(`parley: ${context}`, error),
  });
  cached = {
    store,
    roomStore: () => new LibsqlStore(store.client),
    auth: new Authenticator(credentials, undefined, (user) => profiles.fromToken(user)),
    profiles,
    limits,
    origins: { allowed: allowed ?? [], allowLocalhost: devMode && !allowed },
    devMode,
    webhooks: new EdgeWebhooks(store, backEnds, limits, publicOnly),
    commit,
  };
  return cached;
}

/** Actor names: every conversation and inbox is namespaced by app. */
export const roomName = (app: string, conversationId: string) => `${app}:${conversationId}`;
export const inboxName = (app: string, userId: string) => `${app}:${userId}`;

export function splitName(name: string): { app: string; key: string } {
  const colon = name.indexOf(":");
  return { app: name.slice(0, colon), key: name.slice(colon + 1) };
}
