/**
 * The logging seam every runtime shares: one narrow interface the core, the host layer and the
 * API call, whoever writes the lines (pino on Node and Deno, one JSON line per console.log on
 * the edge, or a host's own logger).
 */

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/**
 * What a log line carries besides its message: context an operator filters on. Never a token,
 * a key, a secret, a request body, raw headers or a URL with its query string.
 */
export interface LogFields {
  /** The HTTP request (or socket upgrade) this line is about (`X-Request-Id`). */
  reqId?: string;
  app?: string;
  conversationId?: string;
  /** A user id (a token's `sub`: a name, not a credential). */
  userId?: string;
  /** The matched route pattern, e.g. `/v1/conversations/:id/messages`. */
  route?: string;
  method?: string;
  status?: number;
  /** How long the request took, in milliseconds. */
  ms?: number;
  /** The contract's error code of a refusal (`unauthorized`, `rate_limited` …). */
  code?: string;
  /** An error, written with pino's `err` serializer (type, message, stack). */
  err?: unknown;
  [field: string]: unknown;
}

/**
 * pino's calling convention, fields first and message second, so a pino logger (or a child of
 * one) is a `Logger` as it is.
 */
export interface Logger {
  debug(fields: LogFields, msg: string): void;
  info(fields: LogFields, msg: string): void;
  warn(fields: LogFields, msg: string): void;
  error(fields: LogFields, msg: string): void;
}

/** Where background work (fan-out, persistence, webhooks) reports an error it survived. */
export type OnError = (error: unknown, context: string, fields?: LogFields) => void;

export const logLevels: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

export const isLogLevel = (value: string): value is LogLevel =>
  (logLevels as readonly string[]).includes(value);

/** Severity of each level (pino's numbers), for the loggers that filter themselves. */
export const levelValue: Record<LogLevel, number> = {
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  silent: Infinity,
};

/** An error as pino's `err` serializer writes it: type, message, stack, code, cause. */
export function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return typeof error === "object" ? error : { message: String(error) };
  const out: Record<string, unknown> = { type: error.constructor?.name ?? "Error", message: error.message };
  out.stack = error.stack;
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (error.cause !== undefined && depth < 3) out.cause = serializeError(error.cause, depth + 1);
  return out;
}

/**
 * A logger writing one JSON line per event (`{"level","time","msg",...fields}`, the shape pino
 * writes) through `write`, for runtimes without pino (workerd). Fields that could carry a
 * credential are dropped by name, as pino's `redact` does on Node.
 */
export function jsonLineLogger(level: () => LogLevel, write: (line: string) => void): Logger {
  const line = (at: Exclude<LogLevel, "silent">) => (fields: LogFields, msg: string) => {
    if (levelValue[at] < levelValue[level()]) return;
    const { err, ...rest } = fields;
    for (const key of Object.keys(rest)) if (secretField.test(key)) delete rest[key];
    const entry: Record<string, unknown> = { level: at, time: new Date().toISOString(), ...rest };
    if (err !== undefined) entry.err = serializeError(err);
    entry.msg = msg;
    try {
      write(JSON.stringify(entry));
    } catch {
      write(JSON.stringify({ level: at, time: entry.time, msg, unserializable: true }));
    }
  };
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}

/** Field names never written (the same list pino's `redact` gets on Node). */
export const secretFieldNames = [
  "token",
  "authorization",
  "secret",
  "serverKey",
  "password",
  "cookie",
  "headers",
  "body",
  "url",
] as const;
const secretField = new RegExp(`^(${secretFieldNames.join("|")})$`, "i");

/** A URL without its credentials, query string and fragment (any of them may hold a secret). */
export const urlForLog = (url: string) => url.replace(/[?#].*$/, "").replace(/\/\/[^/@]*@/, "//");

/** A request id a client or proxy may choose: a short token of safe characters. */
const saneRequestId = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The id of one request: the incoming `X-Request-Id` when it is a sane short token (a proxy's
 * or client's, so their logs and ours join), else a new one.
 */
export const requestIdOf = (header: string | null | undefined): string =>
  header && saneRequestId.test(header) ? header : crypto.randomUUID();

/** Whether a client's `X-Request-Id` is kept as the request's id (see `requestIdOf`). */
export const isSaneRequestId = (header: string): boolean => saneRequestId.test(header);
