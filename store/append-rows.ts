/**
 * The group commit's SQL, shared by the in-thread writer and the writer thread: many rooms'
 * batches become one transaction of multi-row INSERTs, and a retried key in one room's batch
 * does not fail the others.
 */
import type { InStatement } from "@libsql/client";
import type { Message } from "../party/core/types.ts";

/** One room's batch, as the writer receives it. */
export interface AppendRows {
  app: string;
  conversationId: string;
  batch: readonly Message[];
}

/** What became of one room's batch: `undefined` when it is durable, else why not. */
export type AppendOutcome = undefined | { error: unknown };

const MESSAGE_COLUMNS =
  "INSERT INTO messages (app, conversation_id, seq, id, sender_id, client_message_id, body, meta, created_at) VALUES ";
const ROW_PLACEHOLDERS = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
/** An INSERT of `rows` messages at once (9 parameters per row). */
export const insertMessagesSql = (rows: number): string =>
  MESSAGE_COLUMNS + Array(rows).fill(ROW_PLACEHOLDERS).join(", ");

/** One message's values, in the order of the INSERT's columns. */
export function messageValues(
  app: string,
  conversationId: string,
  m: Message,
): Array<string | number | null> {
  const meta = m.meta === undefined ? null : JSON.stringify(m.meta);
  return [app, conversationId, m.seq, m.id, m.senderId, m.clientMessageId, m.body, meta, m.createdAt];
}
/** Rows per INSERT: 9 parameters each stays far below SQLite's parameter limit. */
const ROWS_PER_INSERT = 500;

/**
 * The INSERTs for some rooms' batches: one statement per 500 rows, whatever room they belong
 * to. The conversations' lastSeq follows by trigger (migration 0001).
 */
export function insertStatements(jobs: readonly AppendRows[]): InStatement[] {
  const statements: InStatement[] = [];
  let args: Array<string | number | null> = [];
  let rows = 0;
  const flush = () => {
    if (rows === 0) return;
    statements.push({ sql: insertMessagesSql(rows), args });
    args = [];
    rows = 0;
  };
  for (const { app, conversationId, batch } of jobs) {
    for (const m of batch) {
      args.push(...messageValues(app, conversationId, m));
      if (++rows === ROWS_PER_INSERT) flush();
    }
  }
  flush();
  return statements;
}

/** The idempotency index refused a row: a retried key. Other constraint errors stay as they are. */
export const isDuplicateKey = (error: unknown): boolean =>
  error instanceof Error && /UNIQUE constraint failed: .*client_message_id/.test(error.message);

/** One conversation's identity across apps, for keeping its batches in order. */
export const conversationKey = (job: AppendRows): string => `${job.app}\u0000${job.conversationId}`;

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
      if (failed.has(conversationKey(job))) {
        outcomes.push({ error: new Error("an earlier batch of this conversation failed") });
        continue;
      }
      const outcome: AppendOutcome = await Promise.resolve()
        .then(() => write([job]))
        .then(
          () => undefined,
          (e: unknown) => ({ error: e }),
        );
      if (outcome) failed.add(conversationKey(job));
      outcomes.push(outcome);
    }
    return outcomes;
  }
}
