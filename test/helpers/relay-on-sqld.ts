/**
 * A relay whose database is a fresh sqld behind its TCP proxy (sqld.ts), for the tests that cut,
 * stall or slow the network between a relay and its libSQL server. The relay keeps its own
 * state (workerd's Durable Object storage) in a temp folder of its own, so a restart finds it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Api, api, mintToken } from "./clients.ts";
import { type Runtime, type ServerHandle, startServer } from "./server.ts";
import { type Sqld, startSqld } from "./sqld.ts";

export interface RelayOnSqld {
  sqld: Sqld;
  server: ServerHandle;
  /** Calls with the server key. */
  admin: Api;
  /** Calls as the user "ann". */
  ann: Api;
  /**
   * Runs `work` while sqld cannot be reached: the open connections are cut, and every new one
   * is closed at its first request (an HTTP request or a WebSocket upgrade). Reachable again after.
   */
  whileDatabaseAway<T>(work: () => Promise<T>): Promise<T>;
  /** Stops the relay and sqld and deletes their folders. */
  dispose(): Promise<void>;
}

/**
 * Starts sqld, then a relay on `runtime` with PARLEY_DB_URL through the proxy and `env` beside it.
 * `protocol`: `http` (Hrana over HTTP; what workerd speaks, and what Node's @libsql/client
 * speaks for a `libsql://` URL too) or `ws` (Hrana over a WebSocket, for a `ws(s)://` URL).
 */
export async function startRelayOnSqld(
  runtime: Runtime,
  env: Record<string, string> = {},
  protocol: "http" | "ws" = "http",
): Promise<RelayOnSqld> {
  const sqld = await startSqld();
  // sqld serves both on one port.
  const dbUrl = protocol === "http" ? sqld.url : sqld.url.replace(/^http:/, "ws:");
  const dir = await mkdtemp(path.join(os.tmpdir(), `parley-${runtime}-on-sqld-`));
  let server: ServerHandle;
  try {
    server = await startServer({
      runtime,
      dbDir: dir,
      env: { PARLEY_DB_URL: dbUrl, PARLEY_DATA_DIR: dir, ...env },
    });
  } catch (error) {
    await sqld.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    sqld,
    server,
    admin: api(() => server.url, server.serverKey),
    ann: api(() => server.url, await mintToken(server.secret, "ann")),
    async whileDatabaseAway(work) {
      sqld.proxy.blockRequests(/./);
      sqld.proxy.blockWebSockets(true);
      sqld.proxy.cutAll();
      try {
        return await work();
      } finally {
        sqld.proxy.blockRequests(null);
        sqld.proxy.blockWebSockets(false);
      }
    },
    async dispose() {
      await server.dispose();
      await sqld.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
