/**
 * The group commit's own connection to a local database file, through `libsql`, the driver
 * that @libsql/client wraps. Its statements are prepared once. @libsql/client prepares
 * every statement again on each call and learns that a statement returns no rows by catching
 * an exception — three of each per commit, on the path every message takes.
 */
import Database from "libsql";
import type { Change } from "../party/core/types.ts";
import { type AppendRows, insertChangesSql, insertMessagesSql, newMessageValues } from "./append-rows.ts";
import { changeValues, SCRUB_EDITS_SQL, stateValues, UPDATE_STATE_SQL } from "./rows.ts";
import { ADVANCE_CURSOR_SQL, cursorValues } from "./webhook-tables.ts";

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
  /** The INSERT of n message rows at index n, prepared on first use. */
  inserts: Array<Database.Statement | undefined>;
  /** The same for change rows. */
  changeInserts: Array<Database.Statement | undefined>;
  updateState: Database.Statement;
  scrubEdits: Database.Statement;
  advanceCursor: Database.Statement;
}

/** Runs the prepared INSERT of `rows` rows (made with `sql` on first use). */
function insertRows(
  open: Open,
  cache: Array<Database.Statement | undefined>,
  sql: (rows: number) => string,
  rows: number,
  args: Array<string | number | null>,
): void {
  let statement = cache[rows];
  if (!statement) {
    statement = open.db.prepare(sql(rows));
    cache[rows] = statement;
  }
  statement.run(args);
}

/**
 * Inserts every job's rows (`rowsOf` picks them) in statements of up to ROWS_PER_STATEMENT.
 * Walks the jobs as they are: with many rooms a group holds many one-message jobs, and a
 * flattened copy of them was garbage made per room on every commit.
 */
function insertAll<T>(
  open: Open,
  cache: Array<Database.Statement | undefined>,
  sql: (rows: number) => string,
  jobs: readonly AppendRows[],
  rowsOf: (job: AppendRows) => readonly T[],
  values: (job: AppendRows, row: T) => Array<string | number | null>,
): void {
  let args: Array<string | number | null> = [];
  let count = 0;
  for (const job of jobs) {
    for (const row of rowsOf(job)) {
      for (const value of values(job, row)) args.push(value);
      if (++count === ROWS_PER_STATEMENT) {
        insertRows(open, cache, sql, count, args);
        args = [];
        count = 0;
      }
    }
  }
  if (count > 0) insertRows(open, cache, sql, count, args);
}

const messagesOf = (job: AppendRows) => job.messages;
const changesOf = (job: AppendRows) => job.changes;
const changeValuesOf = (job: AppendRows, c: Change) => changeValues(job.app, job.conversationId, c);

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
        changeInserts: [],
        updateState: db.prepare(UPDATE_STATE_SQL),
        scrubEdits: db.prepare(SCRUB_EDITS_SQL),
        advanceCursor: db.prepare(ADVANCE_CURSOR_SQL),
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
      insertAll(open, open.inserts, insertMessagesSql, jobs, messagesOf, newMessageValues);
      insertAll(open, open.changeInserts, insertChangesSql, jobs, changesOf, changeValuesOf);
      for (const job of jobs) {
        for (const m of job.states) open.updateState.run(stateValues(job.app, job.conversationId, m));
        for (const target of job.scrub) open.scrubEdits.run([job.app, job.conversationId, target]);
        if (job.cursors) for (const cursor of job.cursors) open.advanceCursor.run(cursorValues(cursor));
      }
      open.commit.run();
      if (jobs.some((job) => job.scrub.length > 0)) this.#checkpoint(open);
    } catch (error) {
      this.#reset(open);
      throw error;
    }
  }

  /**
   * After a deletion: move the WAL into the database file and truncate it, so the deleted text
   * does not linger in old WAL frames (secure_delete already zeroes it in the file's pages).
   * Best effort: a checkpoint that readers hold back finishes at a later one.
   */
  #checkpoint(open: Open): void {
    try {
      open.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch {
      // the deletion is committed; the WAL is truncated at the next checkpoint
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
