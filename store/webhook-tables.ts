/**
 * The libSQL side of webhook delivery (party/host/webhooks/webhook-store.ts): endpoints,
 * cursors, conversation events and recorded recipients. Plain SQL over the store's client;
 * every query is keyed by app first, like the rest of the store.
 */
import type { Client, InStatement, Row } from "@libsql/client";
import type {
  LaneState,
  PendingLane,
  WebhookCursor,
  WebhookEndpointRecord,
  WebhookStore,
} from "../party/host/webhooks/webhook-store.ts";
import type { Recipients, WebhookEventType, WebhookStatus } from "../protocol/index.ts";
import type { NativeReadConnection } from "./native-reads.ts";
import { CURSOR_READ_SQL, eventRecordOf, laneStateOf } from "./webhook-rows.ts";

/** Guards a cursor write (arguments: app, endpoint id): a removed endpoint's lane writes nothing. */
const ENDPOINT_EXISTS = "EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.app = ? AND w.id = ?)";

function toEndpoint(row: Row): WebhookEndpointRecord {
  return {
    app: String(row.app),
    id: String(row.id),
    url: String(row.url),
    secret: String(row.secret),
    events: JSON.parse(String(row.events)) as WebhookEventType[],
    status: String(row.status) as WebhookStatus,
    lastError: row.last_error === null ? null : String(row.last_error),
    failingSince: row.failing_since === null ? null : String(row.failing_since),
    createdAt: String(row.created_at),
  };
}

/**
 * A new endpoint's cursors: every existing conversation of its app, at its present (the log's
 * lastSeq, the last event). It hears what happens from now on, not the app's whole past.
 */
const snapshotCursors = (app: string, endpointId: string, onlyIfNew = false): InStatement => ({
  sql: `INSERT INTO webhook_cursors (app, endpoint_id, conversation_id, last_seq, last_event)
        SELECT c.app, ?, c.id, c.last_seq,
               coalesce((SELECT max(v.id) FROM conversation_events v WHERE v.app = c.app AND v.conversation_id = c.id), 0)
        FROM conversations c WHERE c.app = ?
        ${onlyIfNew ? "AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.app = c.app AND w.id = ?)" : ""}
        ON CONFLICT DO NOTHING`,
  args: onlyIfNew ? [endpointId, app, endpointId] : [endpointId, app],
});

const insertEndpoint = (e: WebhookEndpointRecord): InStatement => ({
  sql: `INSERT INTO webhook_endpoints (app, id, url, secret, events, status, last_error, failing_since, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  args: [
    e.app,
    e.id,
    e.url,
    e.secret,
    JSON.stringify(e.events),
    e.status,
    e.lastError,
    e.failingSince,
    e.createdAt,
  ],
});

/** A lane's cursor to write: where one endpoint's deliveries in one conversation have got to. */
export interface CursorRow extends WebhookCursor {
  app: string;
  endpointId: string;
  conversationId: string;
}

/** Moves a cursor: max() so it never moves back, whoever writes it last; none for a removed endpoint. */
export const ADVANCE_CURSOR_SQL = `INSERT INTO webhook_cursors (app, endpoint_id, conversation_id, last_seq, last_event)
  SELECT ?, ?, ?, ?, ? WHERE ${ENDPOINT_EXISTS}
  ON CONFLICT (app, endpoint_id, conversation_id) DO UPDATE SET
    last_seq = max(last_seq, excluded.last_seq), last_event = max(last_event, excluded.last_event)`;

/** ADVANCE_CURSOR_SQL's arguments. */
export const cursorValues = (c: CursorRow): Array<string | number> => [
  c.app,
  c.endpointId,
  c.conversationId,
  c.lastSeq,
  c.lastEvent,
  c.app,
  c.endpointId,
];

export class LibsqlWebhookStore implements WebhookStore {
  constructor(
    private readonly client: Client,
    /**
     * Writes a cursor in the store's next group commit, beside the messages (Node's local
     * file): a lane saving its place costs no transaction and no fsync of its own. Without it
     * each save is a write of its own.
     */
    private readonly commitCursor?: ((row: CursorRow) => Promise<void>) | undefined,
    /**
     * A local file's native read connection: the lanes' reads (cursor, events, log, recipients)
     * with statements prepared once, as a room's load reads.
     */
    private readonly native?: NativeReadConnection | undefined,
  ) {}

  async listEndpoints(app?: string): Promise<WebhookEndpointRecord[]> {
    const result = await this.client.execute(
      app === undefined
        ? "SELECT * FROM webhook_endpoints ORDER BY app, created_at, id"
        : { sql: "SELECT * FROM webhook_endpoints WHERE app = ? ORDER BY created_at, id", args: [app] },
    );
    return result.rows.map(toEndpoint);
  }

  async createEndpoint(endpoint: WebhookEndpointRecord): Promise<void> {
    await this.client.batch([snapshotCursors(endpoint.app, endpoint.id), insertEndpoint(endpoint)], "write");
  }

  async upsertEndpoint(endpoint: WebhookEndpointRecord): Promise<void> {
    await this.client.batch(
      [
        // Only the first time (no such endpoint yet) does it start at the present.
        snapshotCursors(endpoint.app, endpoint.id, true),
        insertEndpoint(endpoint),
        {
          sql: "UPDATE webhook_endpoints SET url = ?, secret = ?, events = ? WHERE app = ? AND id = ?",
          args: [endpoint.url, endpoint.secret, JSON.stringify(endpoint.events), endpoint.app, endpoint.id],
        },
      ],
      "write",
    );
  }

  async deleteEndpoint(app: string, id: string): Promise<boolean> {
    const [deleted] = await this.client.batch(
      [
        { sql: "DELETE FROM webhook_endpoints WHERE app = ? AND id = ?", args: [app, id] },
        { sql: "DELETE FROM webhook_cursors WHERE app = ? AND endpoint_id = ?", args: [app, id] },
        // The app's last endpoint gone: its events are read by nobody any more.
        {
          sql: "DELETE FROM conversation_events WHERE app = ? AND NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE app = ?)",
          args: [app, app],
        },
      ],
      "write",
    );
    return (deleted?.rowsAffected ?? 0) > 0;
  }

  async laneFailed(
    app: string,
    endpointId: string,
    conversationId: string,
    error: string,
    now: string,
    windowStart: string,
  ): Promise<WebhookStatus> {
    const lastError = `${conversationId}: ${error}`.slice(0, 500);
    const results = await this.client.batch(
      [
        {
          sql: `INSERT INTO webhook_cursors (app, endpoint_id, conversation_id, failing_since, last_error)
                SELECT ?, ?, ?, ?, ? WHERE ${ENDPOINT_EXISTS}
                ON CONFLICT (app, endpoint_id, conversation_id) DO UPDATE SET
                  failing_since = coalesce(failing_since, excluded.failing_since), last_error = excluded.last_error`,
          args: [app, endpointId, conversationId, now, lastError, app, endpointId],
        },
        {
          // Paused when this lane has failed for the whole window; never un-paused here.
          sql: `UPDATE webhook_endpoints SET
                  failing_since = coalesce(failing_since, ?), last_error = ?,
                  status = CASE WHEN (SELECT k.failing_since FROM webhook_cursors k
                                      WHERE k.app = ? AND k.endpoint_id = ? AND k.conversation_id = ?) <= ?
                           THEN 'failing' ELSE status END
                WHERE app = ? AND id = ? RETURNING status`,
          args: [now, lastError, app, endpointId, conversationId, windowStart, app, endpointId],
        },
      ],
      "write",
    );
    const row = results[1]?.rows[0];
    return row ? (String(row.status) as WebhookStatus) : "failing";
  }

  async laneRecovered(app: string, endpointId: string, conversationId: string): Promise<void> {
    await this.client.batch(
      [
        {
          sql: "UPDATE webhook_cursors SET failing_since = NULL, last_error = NULL WHERE app = ? AND endpoint_id = ? AND conversation_id = ?",
          args: [app, endpointId, conversationId],
        },
        {
          sql: `UPDATE webhook_endpoints SET failing_since = NULL, last_error = NULL
                WHERE app = ? AND id = ? AND NOT EXISTS (
                  SELECT 1 FROM webhook_cursors k WHERE k.app = ? AND k.endpoint_id = ? AND k.failing_since IS NOT NULL)`,
          args: [app, endpointId, app, endpointId],
        },
      ],
      "write",
    );
  }

  async resumeEndpoint(app: string, id: string): Promise<WebhookEndpointRecord | undefined> {
    const results = await this.client.batch(
      [
        {
          sql: "UPDATE webhook_cursors SET failing_since = NULL, last_error = NULL WHERE app = ? AND endpoint_id = ?",
          args: [app, id],
        },
        {
          sql: "UPDATE webhook_endpoints SET status = 'active', failing_since = NULL, last_error = NULL WHERE app = ? AND id = ? RETURNING *",
          args: [app, id],
        },
      ],
      "write",
    );
    const row = results[1]?.rows[0];
    return row ? toEndpoint(row) : undefined;
  }

  async readCursor(app: string, endpointId: string, conversationId: string): Promise<LaneState> {
    if (this.native) return this.native.readCursor(app, endpointId, conversationId);
    const result = await this.client.execute({
      sql: CURSOR_READ_SQL,
      args: [app, endpointId, conversationId],
    });
    const row = result.rows[0];
    return row ? laneStateOf(row) : { lastSeq: 0, lastEvent: 0, failingSince: null };
  }

  async advanceCursor(
    app: string,
    endpointId: string,
    conversationId: string,
    cursor: WebhookCursor,
  ): Promise<void> {
    const row: CursorRow = {
      app,
      endpointId,
      conversationId,
      lastSeq: cursor.lastSeq,
      lastEvent: cursor.lastEvent,
    };
    if (this.commitCursor) await this.commitCursor(row);
    else await this.client.execute({ sql: ADVANCE_CURSOR_SQL, args: cursorValues(row) });
  }

  async readEvents(app: string, conversationId: string, afterId: number, limit: number) {
    if (this.native) return this.native.readEvents(app, conversationId, afterId, limit);
    const result = await this.client.execute({
      sql: "SELECT id, after_seq, type, data, at FROM conversation_events WHERE app = ? AND conversation_id = ? AND id > ? ORDER BY id LIMIT ?",
      args: [app, conversationId, afterId, limit],
    });
    return result.rows.map(eventRecordOf);
  }

  async readRecipients(app: string, conversationId: string, seqs: readonly number[]) {
    if (this.native) return this.native.readRecipients(app, conversationId, seqs);
    const found = new Map<number, Recipients>();
    if (seqs.length === 0) return found;
    const result = await this.client.execute({
      sql: `SELECT seq, recipients FROM messages WHERE app = ? AND conversation_id = ? AND recipients IS NOT NULL AND seq IN (${seqs.map(() => "?").join(", ")})`,
      args: [app, conversationId, ...seqs],
    });
    for (const row of result.rows)
      found.set(Number(row.seq), JSON.parse(String(row.recipients)) as Recipients);
    return found;
  }

  async readMemberIds(app: string, conversationId: string): Promise<string[]> {
    const result = await this.client.execute({
      sql: "SELECT user_id FROM members WHERE app = ? AND conversation_id = ? ORDER BY user_id",
      args: [app, conversationId],
    });
    return result.rows.map((row) => String(row.user_id));
  }

  async pendingLanes(limit: number, filter?: { app: string; endpointId?: string }): Promise<PendingLane[]> {
    const where: string[] = ["e.status = 'active'"];
    const args: Array<string | number> = [];
    if (filter) {
      where.push("e.app = ?");
      args.push(filter.app);
      if (filter.endpointId !== undefined) {
        where.push("e.id = ?");
        args.push(filter.endpointId);
      }
    }
    args.push(limit);
    const result = await this.client.execute({
      sql: `SELECT e.app, e.id AS endpoint_id, c.id AS conversation_id
            FROM webhook_endpoints e
            JOIN conversations c ON c.app = e.app
            LEFT JOIN webhook_cursors k ON k.app = e.app AND k.endpoint_id = e.id AND k.conversation_id = c.id
            WHERE ${where.join(" AND ")} AND (
              c.last_seq > coalesce(k.last_seq, 0)
              OR EXISTS (SELECT 1 FROM conversation_events v WHERE v.app = c.app AND v.conversation_id = c.id AND v.id > coalesce(k.last_event, 0))
            )
            LIMIT ?`,
      args,
    });
    return result.rows.map((row) => ({
      app: String(row.app),
      endpointId: String(row.endpoint_id),
      conversationId: String(row.conversation_id),
    }));
  }
}
