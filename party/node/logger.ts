/**
 * The Node and Deno logger: pino, one JSON line per event on stdout
 * (`{"level":"info","time":"…","reqId":…,"app":…,"msg":…}`), with every field that could hold
 * a credential removed by pino's `redact` before it is written.
 */
import { pino } from "pino";
import { type Logger, type LogLevel, secretFieldNames } from "../core/log.ts";

export type { LogFields, Logger, LogLevel } from "../core/log.ts";

/**
 * The redact paths: each credential-bearing name at the top of a line's fields and one level
 * down (`err.headers`, `request.authorization` …). Call sites never pass such fields; this is
 * the second wall, for an error object or a host's field that carries one anyway.
 */
export const redactPaths: string[] = secretFieldNames.flatMap((name) => [name, `*.${name}`]);

/** A pino logger writing JSON lines to `destination` (stdout by default) at `level`. */
export function pinoLogger(
  level: LogLevel,
  destination: pino.DestinationStream = pino.destination(1),
): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
      redact: { paths: redactPaths, remove: true },
    },
    destination,
  );
}
