/**
 * `npm start`: runs the relay from the environment (see README), logs where it listens, and
 * stops gracefully on SIGTERM/SIGINT. Every line on stdout is a JSON log line; on a terminal,
 * the human banner (URL, dev server key, a curl to try) is printed too.
 */
import { urlForLog } from "../party/core/log.ts";
import { ConfigError, optionsFromEnv } from "../party/node/config.ts";
import { listenProblem } from "../party/node/listen-problem.ts";
import { pinoLogger } from "../party/node/logger.ts";
import { createRelay, type Relay } from "../party/node/relay.ts";
import { startupBanner } from "./banner.ts";

async function main(): Promise<void> {
  let relay: Relay;
  try {
    relay = await createRelay(await optionsFromEnv(process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      // Before any logging is set up, and for the person starting it: plain text on stderr.
      console.error(`parley: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  // Last resort: an error nothing else handled is a bug to log, not a reason to drop every
  // conversation and socket of this process. (Embedders of createRelay decide this for their
  // own process; the relay's own paths handle their errors.)
  const { config } = relay;
  const log = config.logger;
  process.on("unhandledRejection", (reason) =>
    log.error({ err: reason }, "unhandled rejection; still serving"),
  );
  process.on("uncaughtException", (error) => log.error({ err: error }, "uncaught exception; still serving"));
  let url: string;
  try {
    ({ url } = await relay.listen());
  } catch (error) {
    // The address is the person's setting: name it (a bad HOST, a PORT in use or not allowed).
    console.error(`parley: ${listenProblem(config.host, config.port, error)}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "finishing pending messages and closing sockets");
    // A stuck close must not hang the process forever.
    setTimeout(() => {
      log.error({}, "shutdown took more than 10 s; exiting");
      process.exit(1);
    }, 10_000).unref();
    relay.close().then(
      () => {
        log.info({}, "stopped");
        process.exit(0);
      },
      (error) => {
        log.error({ err: error }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  // Installed before the listening line: a supervisor that stops the relay as soon as it reads
  // that line must reach this handler, not the signal's default action (which ends the process
  // without finishing its pending messages).
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // Written whatever PARLEY_LOG says, as the banner always was: supervisors and tests wait for it.
  pinoLogger("info").info(
    {
      mode: config.production ? "production" : "development",
      database: urlForLog(config.dbUrl),
      ...(config.production ? {} : { demo: `${url}/demo` }),
    },
    `Parley listening on ${url}`,
  );
  // The banner shows the dev server key: for the person at the terminal, never for a log file.
  if (process.stdout.isTTY) console.log(startupBanner(config, url));
}

main().catch((error) => {
  console.error("parley: failed to start:", error instanceof Error ? error.message : error);
  process.exit(1);
});
