/**
 * Configuration of the edge adapters (Cloudflare Workers, PartyKit), read from their variables
 * once per isolate, and the names that keep every actor inside its app.
 */

import type { LibsqlStore } from "../../store/libsql-store.ts";
import { openWebStore } from "../../store/open-web.ts";
import { defaultLimits, inconsistentLimits, type Limits, limitsFromEnv } from "../core/limits.ts";
import { type AppCredentials, Authenticator } from "../host/auth.ts";
import { normaliseOrigins, type OriginPolicy } from "../host/origins.ts";

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
}

export interface EdgeConfig {
  store: LibsqlStore;
  auth: Authenticator;
  limits: Limits;
  origins: OriginPolicy;
  devMode: boolean;
}

let cached: EdgeConfig | undefined;

/** Reads the configuration once per isolate; one clear error when something is missing. */
export function edgeConfig(vars: EdgeVars & Record<string, unknown>): EdgeConfig {
  if (cached) return cached;
  if (!vars.PARLEY_SECRET || !vars.PARLEY_SERVER_KEY) {
    throw new Error(
      "parley (edge): set PARLEY_SECRET and PARLEY_SERVER_KEY (secrets in production, --var in dev)",
    );
  }
  if (!vars.PARLEY_DB_URL)
    throw new Error("parley (edge): set PARLEY_DB_URL to a libSQL server (Turso, or sqld)");
  const apps: AppCredentials[] = [
    { id: "default", secret: vars.PARLEY_SECRET, serverKey: vars.PARLEY_SERVER_KEY },
    ...(vars.PARLEY_APPS ? (JSON.parse(vars.PARLEY_APPS) as AppCredentials[]) : []),
  ];
  const strings = Object.fromEntries(
    Object.entries(vars).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
  const limits = {
    ...defaultLimits,
    ...limitsFromEnv(strings, (name, raw) => {
      const n = Number(raw);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`parley (edge): ${name} must be a positive number`);
      return n;
    }),
  };
  const limitProblem = inconsistentLimits(limits);
  if (limitProblem) throw new Error(`parley (edge): ${limitProblem}`);
  const devMode = vars.PARLEY_DEV === "1";
  let allowed: string[] | undefined;
  try {
    allowed =
      vars.PARLEY_ALLOWED_ORIGINS === undefined
        ? undefined
        : normaliseOrigins(vars.PARLEY_ALLOWED_ORIGINS.split(","));
  } catch (error) {
    throw new Error(`parley (edge): ${(error as Error).message}`);
  }
  cached = {
    store: openWebStore(vars.PARLEY_DB_URL, vars.PARLEY_DB_AUTH_TOKEN),
    auth: new Authenticator(apps),
    limits,
    origins: { allowed: allowed ?? [], allowLocalhost: devMode && !allowed },
    devMode,
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
