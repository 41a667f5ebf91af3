/**
 * The Node and Deno logger: pino, one JSON line per event on stdout
 * (`{"level":"info","time":"…","reqId":…,"app":…,"msg":…}`), with every field that could hold
 * a credential removed by pino's `redact` before it is written.
 */
import fs from "node:fs";
import { pino } from "pino";
import { type Logger, type LogLevel, secretFieldNames } from "../core/log.ts";

export type { LogFields, Logger, LogLevel } from "../core/log.ts";

/**
 * The redact paths: each credential-bearing name at the top of a line's fields and one level
 * down (`err.headers`, `request.authorization` …). Call sites never pass such fields; this is
 * the second wall, for an error object or a host's field that carries one anyway.
 */
export const redactPaths: string[] = secretFieldNames.flatMap((name) => [name, `*.${name}`]);

/**
 * stdout for pino, whose last lines can always be given up at exit. pino flushes its stream
 * synchronously when the process exits, and sonic-boom's `flushSync` retries a failed write
 * every 100 ms whatever the error: with nobody reading stdout any more (EPIPE: the supervisor
 * or the pipe's reader went away), a relay told to stop wrote its "stopped" line forever and
 * never exited (found with two orphaned test relays, spinning after SIGTERM). A write that
 * finds the reader gone drops the rest: there is nobody left to read it.
 */
function stdoutDestination(): pino.DestinationStream {
  const stream = pino.destination(1) as pino.DestinationStream & { flushSync?: () => void };
  const flushSync = stream.flushSync?.bind(stream);
  if (flushSync) {
    stream.flushSync = () => {
      const write = fs.writeSync;
      const dropWhenGone = ((fd: number, buffer: string | Uint8Array, ...rest: never[]) => {
        try {
          return write(fd, buffer as Uint8Array, ...rest);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EPIPE") throw error;
          return typeof buffer === "string" ? Buffer.byteLength(buffer) : buffer.byteLength;
        }
      }) as typeof fs.writeSync;
      fs.writeSync = dropWhenGone;
      try {
        flushSync();
      } finally {
        fs.writeSync = write;
      }
    };
  }
  return stream;
}

/** A pino logger writing JSON lines to `destination` (stdout by default) at `level`. */
export function pinoLogger(
  level: LogLevel,
  destination: pino.DestinationStream = stdoutDestination(),
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
