/**
 * The edge's logger (Workers, PartyKit): no pino in workerd, so the same JSON line pino writes
 * on Node (`{"level","time",...fields,"msg"}`), one `console.log` per event; the runtime's log
 * collection (`wrangler tail`, Logpush, PartyKit's logs) takes each line as it is.
 */
import { isLogLevel, jsonLineLogger, type LogFields, type LogLevel, type OnError } from "../core/log.ts";

let level: LogLevel = "info";

/** `PARLEY_LOG` of this isolate (read with the configuration); an unknown level is refused. */
export function setEdgeLogLevel(value: string | undefined): void {
  if (value === undefined || value === "") return;
  if (!isLogLevel(value)) {
    throw new Error(`parley (edge): PARLEY_LOG must be debug, info, warn, error or silent, got "${value}"`);
  }
  level = value;
}

export const edgeLog = jsonLineLogger(
  () => level,
  (line) => console.log(line),
);

/** An `onError` that logs at error with `fields` (the room's app and conversation, say). */
export const edgeOnError =
  (fields: LogFields = {}): OnError =>
  (error, context, more) =>
    edgeLog.error({ ...fields, ...more, err: error }, context);
