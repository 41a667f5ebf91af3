/**
 * `npm start`: runs the relay from the environment (see README), prints where it is and how
 * to try it, and stops gracefully on SIGTERM/SIGINT.
 */
import { ConfigError, optionsFromEnv } from "../party/node/config.ts";
import { createRelay, type Relay } from "../party/node/relay.ts";
import { startupBanner } from "./banner.ts";

async function main(): Promise<void> {
  let relay: Relay;
  try {
    relay = await createRelay(await optionsFromEnv(process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`parley: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  // Last resort: an error nothing else handled is a bug to log, not a reason to drop every
  // conversation and socket of this process. (Embedders of createRelay decide this for their
  // own process; the relay's own paths handle their errors.)
  const log = relay.config.logger;
  process.on("unhandledRejection", (reason) => log.error("unhandled rejection; still serving", reason));
  process.on("uncaughtException", (error) => log.error("uncaught exception; still serving", error));
  const { url } = await relay.listen();
  console.log(startupBanner(relay.config, url));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`parley: ${signal} received, finishing pending messages and closing sockets…`);
    // A stuck close must not hang the process forever.
    setTimeout(() => {
      console.error("parley: shutdown took more than 10 s; exiting");
      process.exit(1);
    }, 10_000).unref();
    relay.close().then(
      () => process.exit(0),
      (error) => {
        console.error("parley: error during shutdown", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error) => {
  console.error("parley: failed to start:", error instanceof Error ? error.message : error);
  process.exit(1);
});
