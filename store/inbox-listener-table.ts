/**
 * The libSQL side of party/host/inbox-listeners.ts: one row per (app, user) whose inbox listens,
 * keyed by app first like the rest of the store.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import type { InboxListenerIndex } from "../party/host/inbox-listeners.ts";
import * as schema from "./schema.ts";

const { inboxListeners } = schema;
/** Ids per `IN (…)` list: far under SQLite's limit on bound parameters. */
const CHUNK = 500;

export class LibsqlInboxListeners implements InboxListenerIndex {
  constructor(private readonly db: LibSQLDatabase<typeof schema>) {}

  async mark(app: string, userId: string, listening: boolean): Promise<void> {
    if (listening)
      await this.db
        .insert(inboxListeners)
        .values({ app, userId, since: new Date().toISOString() })
        .onConflictDoNothing();
    else
      await this.db
        .delete(inboxListeners)
        .where(and(eq(inboxListeners.app, app), eq(inboxListeners.userId, userId)));
  }

  async among(app: string, userIds: readonly string[]): Promise<Set<string>> {
    const ids = [...new Set(userIds)];
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.db
        .select({ userId: inboxListeners.userId })
        .from(inboxListeners)
        .where(and(eq(inboxListeners.app, app), inArray(inboxListeners.userId, ids.slice(i, i + CHUNK))));
      for (const row of rows) found.add(row.userId);
    }
    return found;
  }
}
