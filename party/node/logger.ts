/** A small leveled logger for the Node and Deno adapters. Never give it a token. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export function consoleLogger(level: LogLevel): Logger {
  const on = (l: LogLevel) => rank[l] >= rank[level];
  const stamp = () => new Date().toISOString();
  return {
    debug: (m) => on("debug") && console.debug(`${stamp()} debug ${m}`),
    info: (m) => on("info") && console.info(`${stamp()} info  ${m}`),
    warn: (m) => on("warn") && console.warn(`${stamp()} warn  ${m}`),
    error: (m, e) => on("error") && console.error(`${stamp()} error ${m}`, e ?? ""),
  } as Logger;
}

/** Removes the query string (it may hold a token) from a URL before it is logged. */
export const redactUrl = (url: string) => url.replace(/\?.*$/, "?…");
