/**
 * The store on runtimes without a filesystem (workerd): @libsql/client's web build, which
 * speaks only http(s), ws(s) and libsql URLs: a libSQL server (Turso, or sqld locally).
 * Migrations are applied beforehand (`npm run dev:workers` does it; see README "Deploy").
 */
import { createClient } from "@libsql/client/web";
import { LibsqlStore } from "./libsql-store.ts";

/** How long one call to the libSQL server may take by default (PARLEY_DB_TIMEOUT_MS). */
export const DEFAULT_DB_TIMEOUT_MS = 10_000;

/**
 * `timeoutMs` bounds each HTTP request to the server until its answer arrives: a server that
 * stops answering (a wedged write lock, a stalled network) fails the call with an error the
 * relay answers as 503, instead of leaving the request open until the client gives up. A write that timed out may still have
 * landed; every writer here can tell (a room's log reads the conversation's lastSeq before it
 * writes again; a retried creation answers 409).
 */
export function openWebStore(
  url: string,
  authToken?: string,
  timeoutMs = DEFAULT_DB_TIMEOUT_MS,
): LibsqlStore {
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
    fetch: (input: Request | string | URL, init?: RequestInit) => timedFetch(input, init, timeoutMs),
  });
  // No reconnect after a failure (the default): it would close the one client under every
  // other request's calls; over HTTP each call is its own request anyway.
  return new LibsqlStore(client);
}

/**
 * `fetch` that gives up after `timeoutMs` without response headers. The timer is cleared as soon
 * as the answer arrives: a timer left running (as `AbortSignal.timeout` leaves it) would keep a
 * Durable Object in memory, and unable to hibernate, for that long after every call. The body
 * that follows is small (a Hrana pipeline's results) and is not timed.
 */
async function timedFetch(input: Request | string | URL, init: RequestInit | undefined, timeoutMs: number) {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no answer from libSQL within ${timeoutMs} ms`, "TimeoutError")),
    timeoutMs,
  );
  const outer = init?.signal;
  const follow = () => controller.abort(outer?.reason);
  outer?.addEventListener("abort", follow);
  try {
    return await fetch(input, { ...init, signal: controller.signal });
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", follow);
  }
}
