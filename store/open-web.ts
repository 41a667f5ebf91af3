/**
 * The store on runtimes without a filesystem (workerd): @libsql/client's web build, which
 * speaks only http(s), ws(s) and libsql URLs: a libSQL server (Turso, or sqld locally).
 * Migrations are applied beforehand (`npm run dev:workers` does it; see README "Deploy").
 */
import { createClient } from "@libsql/client/web";
import { LibsqlStore } from "./libsql-store.ts";

export function openWebStore(url: string, authToken?: string): LibsqlStore {
  if (url.startsWith("file:")) {
    throw new Error(
      `PARLEY_DB_URL=${url}: workerd has no files; use a libSQL server URL (libsql://, https://)`,
    );
  }
  const client = createClient({
    url,
    ...(authToken ? { authToken } : {}),
    // The client queues calls beyond `concurrency` (default 20) and starts a queued one when an
    // earlier one ends, inside that one's request. workerd never lets a request finish I/O
    // another request started (it hangs until the runtime cancels it), and the isolate's
    // client serves the Worker and every object in it: so nothing may be queued. The runtime
    // bounds a request's open connections by itself.
    concurrency: Number.MAX_SAFE_INTEGER,
  });
  // A reconnect would close the one client under every other request's calls; over HTTP each
  // call is its own request anyway, so a failure leaves nothing to recover.
  return new LibsqlStore(client, { reconnectAfterFailure: false });
}
