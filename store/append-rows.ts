/**
 * The group commit's SQL, shared by the in-process writer and a remote store: many rooms'
 * batches of log entries become one transaction, and a retried key in one room's batch does not
 * fail the others.
 */
import type { InStatement } from "@libsql/client";
import type { Change, Message } from "../party/core/types.ts";
import {
  CHANGE_COLUMNS,
  CHANGE_PLACEHOLDERS,
  changeValues,
  MESSAGE_COLUMNS,
  MESSAGE_PLACEHOLDERS,
  messageValues,
  SCRUB_EDITS_SQL,
  stateValues,
  UPDATE_STATE_SQL,
} from "./rows.ts";
import { ADVANCE_CURSOR_SQL, type CursorRow, cursorValues } from "./webhook-tables.ts";

/** One room's batch of log entries, as the writer receives it. */
export interface AppendRows {
  app: string;
  conversationId: string;
  /** New messages (their seqs). */
  messages: readonly Message[];
  /** New changes (their seqs). */
  changes: readonly Change[];
  /** The new latest state of existing messages (targets of the changes, parents of replies). */
  states: readonly Message[];
  /** Messages deleted by this batch: their edits' text is scrubbed. */
  scrub: readonly number[];
  /** Per new message's seq, the JSON of its webhook recipients (when recorded). */
  recipients?: ReadonlyMap<number, string> | undefined;
  /** Webhook cursors written in the same transaction (a job of its own, with no entries). */
  cursors?: readonly CursorRow[] | undefined;
}

/**
 * A job that only moves webhook cursors: it rides a group commit, but it is no room's batch, so
 * it neither fences its conversation when it fails nor is superseded by a failed batch there.
 */
export const isCursorJob = (job: AppendRows): boolean =>
  job.cursors !== undefined &&
  job.messages.length === 0 &&
  job.changes.length === 0 &&
  job.states.length === 0 &&
  job.scrub.length === 0;

/** A new message's INSERT values, with its recipients when its batch recorded them. */
export const newMessageValues = (job: AppendRows, m: Message) =>
  messageValues(job.app, job.conversationId, m, job.recipients?.get(m.seq) ?? null);

/** What became of one room's batch: `undefined` when it is durable, else why not. */
export type AppendOutcome = undefined | { error: unknown };

/** An INSERT of `rows` messages at once (16 parameters per row). */
export const insertMessagesSql = (rows: number): string =>
  `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES ${Array(rows).fill(MESSAGE_PLACEHOLDERS).join(", ")}`;

/** An INSERT of `rows` changes at once (8 parameters per row). */
export const insertChangesSql = (rows: number): string =>
  `INSERT INTO changes (${CHANGE_COLUMNS}) VALUES ${Array(rows).fill(CHANGE_PLACEHOLDERS).join(", ")}`;

/** Rows per INSERT: far below SQLite's parameter limit. */
const ROWS_PER_INSERT = 200;

/**
 * The statements for some rooms' batches: the INSERTs (one per 200 rows, whatever room they
 * belong to), then each state update and scrub. The conversations' lastSeq follows by trigger.
 */
export function insertStatements(jobs: readonly AppendRows[]): InStatement[] {
  const statements: InStatement[] = [];
  const batched = <T>(
    rows: Array<[string, string, T]>,
    sql: (n: number) => string,
    values: (a: string, c: string, r: T) => Array<string | number | null>,
  ) => {
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      const slice = rows.slice(i, i + ROWS_PER_INSERT);
      statements.push({ sql: sql(slice.length), args: slice.flatMap(([a, c, r]) => values(a, c, r)) });
    }
  };
  batched(
    jobs.flatMap((j) =>
      j.messages.map((m) => [j.app, j.conversationId, [j, m]] as [string, string, [AppendRows, Message]]),
    ),
    insertMessagesSql,
    (_a, _c, [job, m]) => newMessageValues(job, m),
  );
  batched(
    jobs.flatMap((j) => j.changes.map((c) => [j.app, j.conversationId, c] as [string, string, Change])),
    insertChangesSql,
    changeValues,
  );
  for (const j of jobs) {
    for (const m of j.states)
      statements.push({ sql: UPDATE_STATE_SQL, args: stateValues(j.app, j.conversationId, m) });
    for (const target of j.scrub)
      statements.push({ sql: SCRUB_EDITS_SQL, args: [j.app, j.conversationId, target] });
    for (const cursor of j.cursors ?? [])
      statements.push({ sql: ADVANCE_CURSOR_SQL, args: cursorValues(cursor) });
  }
  return statements;
}

/** The idempotency index refused a row: a retried key. Other constraint errors stay as they are. */
export const isDuplicateKey = (error: unknown): boolean =>
  error instanceof Error && /UNIQUE constraint failed: .*client_message_id/.test(error.message);

/** One conversation's identity across apps, for keeping its batches in order. */
export const conversationKey = (job: { app: string; conversationId: string }): string =>
  `${job.app}\u0000${job.conversationId}`;

/**
 * Commits the rooms' batches through `write`, which stores the batches it is given in one
 * transaction. When a retried key refuses the whole transaction, each room's batch is
 * committed on its own, so only the room that sent the key hears about it; a room's later
 * batches after one of its own that failed are not written (their seqs follow the failed one's).
 */
export async function commitGroup(
  write: (jobs: readonly AppendRows[]) => unknown,
  jobs: readonly AppendRows[],
): Promise<AppendOutcome[]> {
  try {
    await write(jobs);
    return jobs.map(() => undefined);
  } catch (error) {
    if (jobs.length === 1 || !isDuplicateKey(error)) return jobs.map(() => ({ error }));
    const outcomes: AppendOutcome[] = [];
    const failed = new Set<string>();
    for (const job of jobs) {
      if (!isCursorJob(job) && failed.has(conversationKey(job))) {
        outcomes.push({ error: new Error("an earlier batch of this conversation failed") });
        continue;
      }
      const outcome: AppendOutcome = await Promise.resolve()
        .then(() => write([job]))
        .then(
          () => undefined,
          (e: unknown) => ({ error: e }),
        );
      if (outcome && !isCursorJob(job)) failed.add(conversationKey(job));
      outcomes.push(outcome);
    }
    return outcomes;
  }
}
