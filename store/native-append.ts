/**
 * The group commit's own connection to a local database file, through `libsql`, the driver
 * that @libsql/client wraps. Its statements are prepared once. @libsql/client prepares
 * every statement again on each call and learns that a statement returns no rows by catching
 * an exception — three of each per commit, on the path every message takes.
 */
import Database from "libsql";
import { type AppendRows, insertMessagesSql, messageValues } from "./append-rows.ts";

/**
 * Rows per INSERT statement. A group's messages go in as few statements as this allows:
 * each `run` crosses into the driver once, which costs more than the row itself (measured in a
 * stand-alone loop of 27-message commits: ~19 µs of CPU per message one row at a time, ~17 µs
 * in one statement). One prepared statement per row count up to this, made when first needed.
 */
export const ROWS_PER_STATEMENT = 64;

interface Open {
  db: Database.Database;
  begin: Database.Statement;
  commit: Database.Statement;
  /** The INSERT of n rows at index n, prepared on first use. */
  inserts: Array<Database.Statement | undefined>;
}

function insertRows(open: Open, rows: number, args: Array<string | number | null>): void {
  let statement = open.inserts[rows];
  if (!statement) {
    statement = open.db.prepare(insertMessagesSql(rows));
    open.inserts[rows] = statement;
  }
  statement.run(args);
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
        commit: db.prepare("COMMIT"),
        inserts: [],
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
      let args: Array<string | number | null> = [];
      let rows = 0;
      for (const { app, conversationId, batch } of jobs) {
        for (const message of batch) {
          args.push(...messageValues(app, conversationId, message));
          if (++rows === ROWS_PER_STATEMENT) {
            insertRows(open, rows, args);
            args = [];
            rows = 0;
          }
        }
      }
      if (rows > 0) insertRows(open, rows, args);
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
