/**
 * Rows of webhook delivery's tables as records: a lane's cursor and a conversation event. Shared
 * by the @libsql/client reads (webhook-tables.ts) and the native ones (native-reads.ts), so both
 * return the same records.
 */
import type { ConversationEventRecord, LaneState } from "../party/host/webhooks/webhook-store.ts";

/** A lane's cursor row (arguments: app, endpoint id, conversation id); read through either path. */
export const CURSOR_READ_SQL =
  "SELECT last_seq, last_event, failing_since FROM webhook_cursors WHERE app = ? AND endpoint_id = ? AND conversation_id = ?";

/** A cursor row as a lane's state. */
export function laneStateOf(row: Record<string, unknown>): LaneState {
  return {
    lastSeq: Number(row.last_seq),
    lastEvent: Number(row.last_event),
    failingSince:
      row.failing_since === null || row.failing_since === undefined ? null : String(row.failing_since),
  };
}

/** A conversation event row as its record. */
export function eventRecordOf(row: Record<string, unknown>): ConversationEventRecord {
  return {
    id: Number(row.id),
    afterSeq: Number(row.after_seq),
    type: String(row.type) as ConversationEventRecord["type"],
    data: JSON.parse(String(row.data)) as Record<string, unknown>,
    at: String(row.at),
  };
}
