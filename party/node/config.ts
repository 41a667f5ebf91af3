/**
 * Relay configuration: options (for embedding) mirror the environment (for `npm start`).
 * Dev mode generates the default app's secrets once and keeps them in the data folder;
 * production mode refuses to start without them.
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { makeFolder } from "../../store/make-folder.ts";
import { localDbPath, type SyncMode } from "../../store/open.ts";
import {
  decimalNumber,
  defaultLimits,
  inconsistentLimits,
  type Limits,
  limitsFromEnv,
  positiveDecimal,
} from "../core/limits.ts";
import { isLogLevel, type Logger, type LogLevel } from "../core/log.ts";
import { appsWebhookConfig, checkAppCredentials, parseApps } from "../host/apps-config.ts";
import type { AppCredentials } from "../host/auth.ts";
import { normaliseOrigins, type OriginPolicy } from "../host/origins.ts";
import {
  type AppWebhookConfig,
  defaultAppWebhooks,
  type HookFailurePolicy,
} from "../host/webhooks/config.ts";
import { pinoLogger } from "./logger.ts";

/** Options of `createRelay`; every one has an environment variable (see README). */
export interface RelayOptions {
  /** HTTP/WebSocket port (`PORT`, default 8787; 0 picks a free one). */
  port?: number;
  /** Bind address (`HOST`, default 127.0.0.1). */
  host?: string;
  /** libSQL URL (`PARLEY_DB_URL`, default `file:./data/parley.db`). */
  dbUrl?: string;
  /** Token for a remote libSQL (`PARLEY_DB_AUTH_TOKEN`). */
  dbAuthToken?: string;
  /** `full` (default): fsync every commit; `normal`: survives process crashes only (`PARLEY_DB_SYNC`). */
  dbSync?: SyncMode;
  /** How long a write waits for a database lock held elsewhere before answering 503 (`PARLEY_DB_BUSY_TIMEOUT_MS`, 5000). */
  dbBusyTimeoutMs?: number;
  /** HS256 secret of the default app's user tokens, ≥ 32 bytes (`PARLEY_SECRET`). */
  secret?: string;
  /** The default app's server key (`PARLEY_SERVER_KEY`). */
  serverKey?: string;
  /**
   * More tenants beside `default` (`PARLEY_APPS` JSON or `PARLEY_APPS_FILE`), each with its
   * own `webhooks` (endpoints from the configuration) and `hook` if it wants them.
   */
  apps?: AppOptions[];
  /** The default app's webhook endpoint (`PARLEY_WEBHOOK_URL`, `PARLEY_WEBHOOK_SECRET`, `PARLEY_WEBHOOK_EVENTS`). */
  webhook?: { url: string; secret: string; events?: string[] };
  /** The default app's pre-send hook (`PARLEY_HOOK_URL`, `PARLEY_HOOK_SECRET`, `PARLEY_HOOK_ON_FAILURE`). */
  hook?: { url: string; secret: string; onFailure?: HookFailurePolicy };
  /**
   * Let endpoints registered through `/v1/webhooks` point at private addresses in production
   * (`PARLEY_WEBHOOK_ALLOW_PRIVATE=1`); always allowed in dev mode.
   */
  webhookAllowPrivate?: boolean;
  /** Browser origins allowed to call the API and open sockets (`PARLEY_ALLOWED_ORIGINS`). */
  allowedOrigins?: string[];
  /** Production mode (`NODE_ENV=production`): no dev endpoints, secrets required. */
  production?: boolean;
  /** `GET /docs` renders the OpenAPI document (`PARLEY_DOCS=1`; default: in dev mode only). */
  docs?: boolean;
  /** Metrics are kept and served at `GET /metrics` (`PARLEY_METRICS=0` turns them off; default on). */
  metrics?: boolean;
  /** `GET /metrics` needs no credential (`PARLEY_METRICS_PUBLIC=1`; default: a server key). */
  metricsPublic?: boolean;
  /** Where dev secrets live (`PARLEY_DATA_DIR`; default: the database's folder, else ./data). */
  dataDir?: string;
  /** Limits and timings (`PARLEY_MAX_MESSAGE_BYTES`, `PARLEY_SEND_RATE`, …). */
  limits?: Partial<Limits>;
  /** `debug` | `info` | `warn` | `error` | `silent` (`PARLEY_LOG`, default info). */
  logLevel?: LogLevel;
  /**
   * A logger of your own instead of the JSON lines on stdout: a pino logger (or a child of one)
   * as it is, or anything with pino's `info(fields, message)` calls (see `Logger`).
   */
  logger?: Logger;
}

/** One more tenant: its credentials, and its webhooks and hook if it has them. */
export type AppOptions = AppCredentials & {
  webhooks?: Array<{ id?: string; url: string; secret: string; events?: string[] }>;
  hook?: { url: string; secret: string; onFailure?: HookFailurePolicy };
};

export interface RelayConfig {
  port: number;
  host: string;
  dbUrl: string;
  dbAuthToken: string | undefined;
  dbSync: SyncMode;
  dbBusyTimeoutMs: number;
  apps: AppCredentials[];
  origins: OriginPolicy;
  production: boolean;
  /** `GET /docs` is served. */
  docs: boolean;
  /** Metrics are kept and `GET /metrics` serves them. */
  metrics: boolean;
  /** `GET /metrics` needs no credential. */
  metricsPublic: boolean;
  dataDir: string;
  limits: Limits;
  logger: Logger;
  /** Each app's webhooks and hook from the configuration (apps without any are absent). */
  webhooks: Map<string, AppWebhookConfig>;
  /** Endpoints registered through the API may not point at private addresses. */
  webhookPublicOnly: boolean;
  /** Set in dev mode when the default app's secrets come from this file. */
  devSecretsFile: string | undefined;
}

/** A configuration mistake, reported to the operator as one clear line. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** A configuration mistake's sentence, as the error `npm start` reports in one line. */
const configError = (sentence: string) => new ConfigError(sentence);

async function appsFromEnv(env: NodeJS.ProcessEnv): Promise<AppOptions[] | undefined> {
  let raw = env.PARLEY_APPS;
  let source = "PARLEY_APPS";
  if (!raw && env.PARLEY_APPS_FILE) {
    source = env.PARLEY_APPS_FILE;
    raw = await readFile(env.PARLEY_APPS_FILE, "utf8").catch(() => {
      throw new ConfigError(`cannot read PARLEY_APPS_FILE ${env.PARLEY_APPS_FILE}`);
    });
  }
  if (!raw) return undefined;
  try {
    return parseApps(raw, source) as AppOptions[];
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

function allowedOrigins(entries: readonly string[]): string[] {
  try {
    return normaliseOrigins(entries);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

/** Reads the documented environment variables into relay options. */
export async function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<RelayOptions> {
  const options: RelayOptions = { production: env.NODE_ENV === "production" };
  if (env.PORT !== undefined && env.PORT !== "") {
    const port = decimalNumber(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`PORT must be a port number (0-65535), got "${env.PORT}"`);
    }
    options.port = port;
  }
  if (env.HOST) options.host = env.HOST;
  if (env.PARLEY_DB_URL) options.dbUrl = env.PARLEY_DB_URL;
  if (env.PARLEY_DB_AUTH_TOKEN) options.dbAuthToken = env.PARLEY_DB_AUTH_TOKEN;
  if (env.PARLEY_DB_SYNC) {
    if (env.PARLEY_DB_SYNC !== "full" && env.PARLEY_DB_SYNC !== "normal") {
      throw new ConfigError(`PARLEY_DB_SYNC must be "full" or "normal", got "${env.PARLEY_DB_SYNC}"`);
    }
    options.dbSync = env.PARLEY_DB_SYNC;
  }
  if (env.PARLEY_DB_BUSY_TIMEOUT_MS) {
    options.dbBusyTimeoutMs = positiveDecimal(
      "PARLEY_DB_BUSY_TIMEOUT_MS",
      env.PARLEY_DB_BUSY_TIMEOUT_MS,
      configError,
    );
  }
  if (env.PARLEY_SECRET) options.secret = env.PARLEY_SECRET;
  if (env.PARLEY_SERVER_KEY) options.serverKey = env.PARLEY_SERVER_KEY;
  if (env.PARLEY_DATA_DIR) options.dataDir = env.PARLEY_DATA_DIR;
  // Empty is unset, as for every other variable (dev mode then allows any localhost origin).
  if (env.PARLEY_ALLOWED_ORIGINS) options.allowedOrigins = env.PARLEY_ALLOWED_ORIGINS.split(",");
  if (env.PARLEY_LOG) {
    if (!isLogLevel(env.PARLEY_LOG)) {
      throw new ConfigError(`PARLEY_LOG must be debug, info, warn, error or silent, got "${env.PARLEY_LOG}"`);
    }
    options.logLevel = env.PARLEY_LOG;
  }
  options.limits = limitsFromEnv(env, configError);
  let hooks: AppWebhookConfig;
  try {
    hooks = defaultAppWebhooks(env);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const [webhook] = hooks.webhooks;
  if (webhook) options.webhook = { url: webhook.url, secret: webhook.secret, events: webhook.events };
  if (hooks.hook) options.hook = hooks.hook;
  if (env.PARLEY_DOCS !== undefined && env.PARLEY_DOCS !== "") {
    if (env.PARLEY_DOCS !== "1" && env.PARLEY_DOCS !== "0")
      throw new ConfigError(`PARLEY_DOCS must be 1 or 0, got "${env.PARLEY_DOCS}"`);
    options.docs = env.PARLEY_DOCS === "1";
  }
  const metrics = flagFromEnv(env, "PARLEY_METRICS");
  if (metrics !== undefined) options.metrics = metrics;
  const metricsPublic = flagFromEnv(env, "PARLEY_METRICS_PUBLIC");
  if (metricsPublic !== undefined) options.metricsPublic = metricsPublic;
  if (env.PARLEY_WEBHOOK_ALLOW_PRIVATE !== undefined && env.PARLEY_WEBHOOK_ALLOW_PRIVATE !== "") {
    if (env.PARLEY_WEBHOOK_ALLOW_PRIVATE !== "1" && env.PARLEY_WEBHOOK_ALLOW_PRIVATE !== "0")
      throw new ConfigError(
        `PARLEY_WEBHOOK_ALLOW_PRIVATE must be 1 or 0, got "${env.PARLEY_WEBHOOK_ALLOW_PRIVATE}"`,
      );
    options.webhookAllowPrivate = env.PARLEY_WEBHOOK_ALLOW_PRIVATE === "1";
  }
  const apps = await appsFromEnv(env);
  if (apps) options.apps = apps;
  return options;
}

/** A `1` or `0` switch; undefined when unset or empty. */
function flagFromEnv(env: Record<string, string | undefined>, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (raw !== "1" && raw !== "0") throw new ConfigError(`${name} must be 1 or 0, got "${raw}"`);
  return raw === "1";
}

const randomSecret = (prefix: string) => prefix + randomBytes(32).toString("base64url");

/**
 * Why the data folder cannot hold the dev secrets, in words naming the setting, for a file-system
 * error that is about the folder rather than the file's content; undefined otherwise.
 */
function dataDirProblem(error: unknown, dataDir: string): string | undefined {
  const where = `the data folder ${dataDir} (PARLEY_DATA_DIR; default: the database's folder)`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOTDIR" || code === "EEXIST")
    return `${where} is not a folder: a part of that path is a file`;
  if (code === "EACCES" || code === "EPERM") return `${where} cannot be written by this user`;
  if (code === "EROFS") return `${where} is on a read-only file system`;
  // The folders above it exist (makeFolder starts from the nearest one), yet this one cannot be made.
  if (code === "ENOENT") return `${where} cannot be created there: the file system does not allow it`;
  return undefined;
}

/** Loads the dev secrets file in `dataDir`, creating it (mode 0600) on first start. */
async function devSecrets(dataDir: string): Promise<{ secret: string; serverKey: string }> {
  const file = join(dataDir, "dev-secrets.json");
  try {
    const saved = JSON.parse(await readFile(file, "utf8")) as { secret?: unknown; serverKey?: unknown };
    if (typeof saved.secret === "string" && typeof saved.serverKey === "string") {
      return { secret: saved.secret, serverKey: saved.serverKey };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigError(
        dataDirProblem(error, dataDir) ??
          `cannot read dev secrets from ${file}: delete it to have new ones generated`,
      );
    }
  }
  const created = { secret: randomSecret(""), serverKey: randomSecret("psk_") };
  try {
    await makeFolder(dataDir);
    await writeFile(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600 });
  } catch (error) {
    throw new ConfigError(
      `${dataDirProblem(error, dataDir) ?? `cannot write dev secrets to ${file}`} (${(error as Error).message})`,
    );
  }
  return created;
}

/** PARLEY_DB_URL (default `file:./data/parley.db`), refused with its name when no driver takes it. */
export function checkedDbUrl(url: string | undefined): string {
  const dbUrl = url ?? "file:./data/parley.db";
  if (!/^(file:|libsql:|https?:|wss?:)/.test(dbUrl)) {
    throw new ConfigError(`PARLEY_DB_URL must start with file:, libsql:, http(s): or ws(s):, got "${dbUrl}"`);
  }
  return dbUrl;
}

/** Fills in defaults, validates, and (in dev mode) loads or creates the dev secrets. */
export async function resolveConfig(options: RelayOptions = {}): Promise<RelayConfig> {
  const production = options.production ?? false;
  const dbUrl = checkedDbUrl(options.dbUrl);
  const dbPath = localDbPath(dbUrl);
  const dataDir = options.dataDir ?? (dbPath ? dirname(dbPath) : "./data");
  let { secret, serverKey } = options;
  let devSecretsFile: string | undefined;
  if (!secret || !serverKey) {
    if (production) {
      throw new ConfigError(
        "production mode needs PARLEY_SECRET and PARLEY_SERVER_KEY (NODE_ENV=production)",
      );
    }
    devSecretsFile = join(dataDir, "dev-secrets.json");
    const generated = await devSecrets(dataDir);
    secret ??= generated.secret;
    serverKey ??= generated.serverKey;
  }
  const apps: AppCredentials[] = [
    { id: "default", secret, serverKey },
    ...(options.apps ?? []).map(({ id, secret, serverKey }) => ({ id, secret, serverKey })),
  ];
  try {
    checkAppCredentials(apps);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const limits = { ...defaultLimits, ...options.limits };
  const limitProblem = inconsistentLimits(limits);
  if (limitProblem) throw new ConfigError(limitProblem);
  const webhooks = webhookConfig(options);
  return {
    port: options.port ?? 8787,
    host: options.host ?? "127.0.0.1",
    dbUrl,
    dbAuthToken: options.dbAuthToken,
    dbSync: options.dbSync ?? "full",
    dbBusyTimeoutMs: options.dbBusyTimeoutMs ?? 5_000,
    apps,
    origins: {
      allowed: allowedOrigins(options.allowedOrigins ?? []),
      allowLocalhost: !production && !options.allowedOrigins,
    },
    production,
    docs: options.docs ?? !production,
    metrics: options.metrics ?? true,
    metricsPublic: options.metricsPublic ?? false,
    dataDir,
    limits,
    logger: options.logger ?? pinoLogger(options.logLevel ?? "info"),
    webhooks,
    webhookPublicOnly: production && !options.webhookAllowPrivate,
    devSecretsFile,
  };
}

/** Every app's webhooks and hook from the options, checked as the environment's are. */
function webhookConfig(options: RelayOptions): Map<string, AppWebhookConfig> {
  const entries = [
    {
      id: "default",
      webhooks: options.webhook ? [{ id: "env", ...options.webhook }] : undefined,
      hook: options.hook,
    },
    ...(options.apps ?? []),
  ];
  try {
    return appsWebhookConfig(entries);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}
