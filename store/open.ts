/**
 * Opens the libSQL store for a Node or Deno process: creates the data folder for `file:` URLs,
 * sets WAL and the chosen sync level, and applies drizzle-kit migrations before anything reads.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import type { CommitObserver } from "./group-commit.ts";
import { LibsqlStore } from "./libsql-store.ts";
import { makeFolder } from "./make-folder.ts";
import { NativeAppendConnection } from "./native-append.ts";
import { NativeReadConnection } from "./native-reads.ts";
import { applyPragmas } from "./recovering-write.ts";

/**
 * `full`: every commit is fsynced before the ack — survives a process crash, an OS crash and a
 * power cut. `normal`: WAL is fsynced only at checkpoints — survives a process crash (SIGKILL),
 * may lose the last commits on an OS crash or power cut.
 */
export type SyncMode = "full" | "normal";

export interface OpenStoreOptions {
  url: string;
  authToken?: string | undefined;
  sync: SyncMode;
  /** How long a write waits for a lock held by another process before failing (503). */
  busyTimeoutMs?: number | undefined;
  /** Runs the shared group commit soon (Node: setImmediate). */
  schedule?: ((fn: () => void) => void) | undefined;
  /** Told of each group commit (the host's metrics). */
  commitObserver?: CommitObserver | undefined;
}

const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

/**
 * Where a `file:` URL keeps its database, or null for remote URLs and in-memory databases
 * (`file::memory:`), which have no file (and no second connection can see them).
 */
export function localDbPath(url: string): string | null {
  if (!url.startsWith("file:")) return null;
  const rest = url.slice("file:".length);
  if (rest.startsWith(":memory:") || /[?&]mode=memory\b/.test(rest)) return null;
  return resolve(rest.replace(/^\/\/(?=\/)/, ""));
}

/** The URL without credentials or query (an auth token may sit in either). */
function withoutSecrets(url: string): string {
  const cut = url.split(/[?#]/)[0] ?? url;
  return cut.replace(/\/\/[^/@]*@/, "//");
}

/**
 * The innermost cause's message: drizzle reports a failed query as "Failed query: <sql>",
 * which hides why it failed (a refused connection, a read-only folder).
 */
function rootCause(error: unknown): string {
  let current = error;
  for (let depth = 0; depth < 10; depth++) {
    const next = (current as { cause?: unknown } | null)?.cause;
    if (next === undefined || next === null) break;
    current = next;
  }
  const code = (current as { code?: unknown } | null)?.code;
  const message = current instanceof Error ? current.message : String(current);
  const text = typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
  // A driver may quote the URL it was given, credentials and all.
  return text.replace(/\/\/[^/@\s]*@/g, "//").replace(/(authToken=)[^&\s]+/gi, "$1…");
}

export async function openStore(options: OpenStoreOptions): Promise<LibsqlStore> {
  const path = localDbPath(options.url);
  const cannotOpen = (error: unknown) =>
    new Error(`cannot open the database at ${withoutSecrets(options.url)}: ${rootCause(error)}`, {
      cause: error,
    });
  if (path) await makeFolder(dirname(path)).catch((error: unknown) => Promise.reject(cannotOpen(error)));
  // One connection: every call on it is a short synchronous step, and per-connection pragmas
  // (synchronous) must stay in force for the whole life of the store.
  const client = createClient({
    url: options.url,
    ...(options.authToken ? { authToken: options.authToken } : {}),
    concurrency: 1,
  });
  const pragmas = path
    ? [
        `PRAGMA synchronous = ${options.sync === "full" ? "FULL" : "NORMAL"}`,
        `PRAGMA busy_timeout = ${Math.floor(options.busyTimeoutMs ?? 5000)}`,
        // A deleted message's text is overwritten with zeros in the file, not left in free space.
        "PRAGMA secure_delete = ON",
      ]
    : [];
  try {
    // WAL is a property of the file (it persists); the others belong to each connection.
    if (path) await client.execute("PRAGMA journal_mode = WAL");
    await applyPragmas(client, pragmas);
    await migrate(drizzle(client), { migrationsFolder });
  } catch (error) {
    client.close();
    throw cannotOpen(error);
  }
  return new LibsqlStore(client, {
    pragmas,
    // A local file only: see LibsqlStoreOptions.reconnectAfterFailure.
    reconnectAfterFailure: path !== null,
    ...(options.schedule ? { schedule: options.schedule } : {}),
    commitObserver: options.commitObserver,
    // A local file commits on a connection of its own, opened after the migrations.
    ...(path ? { appendConnection: new NativeAppendConnection(path, pragmas) } : {}),
    // A room's load reads there too, with its statements prepared once.
    ...(path ? { loadReads: new NativeReadConnection(path, pragmas) } : {}),
  });
}
