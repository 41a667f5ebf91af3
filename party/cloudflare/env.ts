/** The Worker's bindings and variables, and the configuration read from them once per isolate. */
import { type AppCredentials, Authenticator } from "../../api/auth.ts";
import type { OriginPolicy } from "../../api/origins.ts";
import type { LibsqlStore } from "../../store/libsql-store.ts";
import { openWebStore } from "../../store/open-web.ts";
import { defaultLimits, type Limits, limitsFromEnv } from "../core/limits.ts";
import type { ConversationServer } from "./conversation-server.ts";
import type { InboxServer } from "./inbox-server.ts";

export interface Env {
  Conversation: DurableObjectNamespace<ConversationServer>;
  Inbox: DurableObjectNamespace<InboxServer>;
  PARLEY_DB_URL?: string;
  PARLEY_DB_AUTH_TOKEN?: string;
  PARLEY_SECRET?: string;
  PARLEY_SERVER_KEY?: string;
  PARLEY_APPS?: string;
  PARLEY_ALLOWED_ORIGINS?: string;
  /** "1" in `npm run dev:workers`: dev endpoints (`/v1/dev/token`) on, localhost origins allowed. */
  PARLEY_DEV?: string;
  [limit: string]: unknown;
}

export interface WorkerConfig {
  store: LibsqlStore;
  auth: Authenticator;
  limits: Limits;
  origins: OriginPolicy;
  devMode: boolean;
}

let cached: WorkerConfig | undefined;

/** Reads the configuration once per isolate; one clear error when something is missing. */
export function workerConfig(env: Env): WorkerConfig {
  if (cached) return cached;
  if (!env.PARLEY_SECRET || !env.PARLEY_SERVER_KEY) {
    throw new Error(
      "parley (workers): set PARLEY_SECRET and PARLEY_SERVER_KEY (wrangler secret put, or --var in dev)",
    );
  }
  if (!env.PARLEY_DB_URL)
    throw new Error("parley (workers): set PARLEY_DB_URL to a libSQL server (Turso, or sqld)");
  const apps: AppCredentials[] = [
    { id: "default", secret: env.PARLEY_SECRET, serverKey: env.PARLEY_SERVER_KEY },
    ...(env.PARLEY_APPS ? (JSON.parse(env.PARLEY_APPS) as AppCredentials[]) : []),
  ];
  const strings = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
  const limits = {
    ...defaultLimits,
    ...limitsFromEnv(strings, (name, raw) => {
      const n = Number(raw);
      if (!Number.isFinite(n) || n <= 0)
        throw new Error(`parley (workers): ${name} must be a positive number`);
      return n;
    }),
  };
  const devMode = env.PARLEY_DEV === "1";
  const allowed = env.PARLEY_ALLOWED_ORIGINS?.split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  cached = {
    store: openWebStore(env.PARLEY_DB_URL, env.PARLEY_DB_AUTH_TOKEN),
    auth: new Authenticator(apps),
    limits,
    origins: { allowed: allowed ?? [], allowLocalhost: devMode && !allowed },
    devMode,
  };
  return cached;
}

/** Durable Object names: every actor is namespaced by app. */
export const roomName = (app: string, conversationId: string) => `${app}/${conversationId}`;
export const inboxName = (app: string, userId: string) => `${app}/${userId}`;

export function splitName(name: string): { app: string; key: string } {
  const slash = name.indexOf("/");
  return { app: name.slice(0, slash), key: name.slice(slash + 1) };
}

/** Identity headers the Worker sets after verifying a token (and strips from client requests). */
export const IDENTITY_HEADERS = {
  app: "x-parley-app",
  user: "x-parley-user",
  instance: "x-parley-instance",
} as const;
