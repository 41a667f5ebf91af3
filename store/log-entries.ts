/**
 * A page of the log from its heads (the seqs of a page, each a message or a change): every
 * message in its latest state, every change with its target's latest state. Shared by the
 * @libsql/client path and the native read connection, so both build exactly the same entries.
 */
import type { Change, LogEntry, Message } from "../party/core/types.ts";

/** One row of a page's heads: a seq, and whether it is a change (else a message). */
export interface LogHead {
  seq: number;
  change: boolean;
}

/**
 * The heads of a log page: `seq` and `t` ('m' a message, 'c' a change), in seq order, from
 * both tables, cut by the bytes of message bodies and meta (and of change data) so a page stays
 * under a size. Arguments: app, conversation (and, "after", the seq to start after) for the
 * messages, the same for the changes, then the row limit and the byte limit. One text for the
 * @libsql/client path and the native read connection.
 */
export function logHeadsSql(direction: "after" | "tail"): string {
  const bound = direction === "after" ? "AND seq > ?" : "";
  const order = direction === "after" ? "ASC" : "DESC";
  const scope = (table: "messages" | "changes") =>
    `SELECT seq, ${table === "messages" ? "'m'" : "'c'"} AS t, ${
      table === "messages"
        ? "(length(CAST(body AS BLOB)) + coalesce(length(CAST(meta AS BLOB)), 0)) AS size"
        : "length(data) AS size"
    } FROM ${table} WHERE app = ? AND conversation_id = ? ${bound}`;
  return `SELECT seq, t FROM (
            SELECT seq, t, sum(size) OVER (ORDER BY seq ${order} ROWS UNBOUNDED PRECEDING) - size AS before_bytes
            FROM (SELECT * FROM (${scope("messages")} UNION ALL ${scope("changes")}) ORDER BY seq ${order} LIMIT ?)
          ) WHERE before_bytes = 0 OR before_bytes < ? ORDER BY seq ASC`;
}

/** An edit of a deleted message carries no text: a deleted text is never sent again, by any path. */
export function withoutDeletedText(change: Change, target: Message): Change {
  if (!target.deleted || change.kind !== "edit") return change;
  const { body: _body, meta: _meta, ...rest } = change;
  return rest;
}

/** Where a page's rows come from: the changes of some seqs, the messages of some seqs. */
export interface LogRows {
  changes(seqs: number[]): Promise<Change[]> | Change[];
  messages(seqs: number[]): Promise<Message[]> | Message[];
}

/** The entries of `heads`, in their order; a head whose rows are gone is left out. */
export async function assembleLog(heads: readonly LogHead[], rows: LogRows): Promise<LogEntry[]> {
  if (heads.length === 0) return [];
  const changeSeqs = heads.filter((h) => h.change).map((h) => h.seq);
  const changes = changeSeqs.length === 0 ? [] : await rows.changes(changeSeqs);
  const wanted = new Set([
    ...heads.filter((h) => !h.change).map((h) => h.seq),
    ...changes.map((c) => c.target),
  ]);
  const states = new Map((await rows.messages([...wanted])).map((m) => [m.seq, m]));
  const changeBySeq = new Map(changes.map((c) => [c.seq, c]));
  const entries: LogEntry[] = [];
  for (const head of heads) {
    if (!head.change) {
      const message = states.get(head.seq);
      if (message) entries.push({ type: "message", message });
      continue;
    }
    const change = changeBySeq.get(head.seq);
    const message = change && states.get(change.target);
    if (change && message)
      entries.push({ type: "change", change: withoutDeletedText(change, message), message });
  }
  return entries;
}
