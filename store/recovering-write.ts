/** Per-connection settings and the recovery after a failed write, for every libSQL connection we open. */
import type { Client } from "@libsql/client";

/** Applies per-connection pragmas (synchronous, busy_timeout); they do not persist in the file. */
export async function applyPragmas(client: Client, pragmas: readonly string[]): Promise<void> {
  for (const pragma of pragmas) await client.execute(pragma);
}

/**
 * Runs a write; after a failure, starts over on a fresh connection before rethrowing: a
 * statement that failed with SQLITE_BUSY can stay "in progress" on the old one and make every
 * later COMMIT fail.
 */
export async function recoveringWrite<T>(
  client: Client,
  pragmas: readonly string[],
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    try {
      await client.reconnect();
      await applyPragmas(client, pragmas);
    } catch {
      // still failing: the next write tries again
    }
    throw error;
  }
}
