/**
 * The group commit's own connection to a local database file, through `libsql`, the driver
 * that @libsql/client wraps. Its three statements are prepared once. @libsql/client prepares
 * every statement again on each call and learns that a statement returns no rows by catching
 * an exception — three of each per commit, on the path every message takes.
 */
import Database from "libsql";
import { type AppendRows, INSERT_MESSAGE, messageValues } from "./append-rows.ts";

interface Open {
  db: Database.Database;
  begin: Database.Statement;
  insert: Database.Statement;
  commit: Database.Statement;
}

export class NativeAppendConnection {
  #open: Open | null = null;

  constructor(
    private readonly path: string,
    /** The same per-connection settings as the store's other connection (sync, busy timeout). */
    private readonly pragmas: readonly string[],
  ) {
    this.#connect();
  }

  #connect(): Open {
    const db = new Database(this.path);
    try {
      for (const pragma of this.pragmas) db.exec(pragma);
      this.#open = {
        db,
        begin: db.prepare("BEGIN IMMEDIATE"),
        insert: db.prepare(INSERT_MESSAGE),
        commit: db.prepare("COMMIT"),
      };
      return this.#open;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Stores the batches in one transaction, or none of them (and throws). */
  write(jobs: readonly AppendRows[]): void {
    const open = this.#open ?? this.#connect();
    try {
      open.begin.run();
      for (const { app, conversationId, batch } of jobs) {
        for (const message of batch) open.insert.run(messageValues(app, conversationId, message));
      }
      open.commit.run();
    } catch (error) {
      this.#reset(open);
      throw error;
    }
  }

  /**
   * After a failure, the next write starts on a fresh connection: a statement that failed with
   * SQLITE_BUSY can stay "in progress" and make every later COMMIT on this one fail.
   */
  #reset(open: Open): void {
    this.#open = null;
    try {
      if (open.db.inTransaction) open.db.exec("ROLLBACK");
    } catch {
      // closing below ends the transaction anyway
    }
    try {
      open.db.close();
    } catch {
      // the write's own error is the one to report
    }
  }

  /** A setting of this connection (e.g. `synchronous`), for checks. */
  setting(name: string): unknown {
    const open = this.#open ?? this.#connect();
    const row = open.db.prepare(`PRAGMA ${name}`).raw(true).get();
    return Array.isArray(row) ? row[0] : undefined;
  }

  close(): void {
    if (this.#open) this.#open.db.close();
    this.#open = null;
  }
}
