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
  return new LibsqlStore(createClient({ url, ...(authToken ? { authToken } : {}) }));
}
