/**
 * One lane: one endpoint's deliveries in one conversation, in order. It reads from its cursor
 * (the log through `Store.readLog`, the conversation events beside it), sends one event at a
 * time, and moves the cursor only after a 2xx — so an event is never skipped, and the next one
 * never leaves before the previous one was answered. Runtime-free: the Node dispatcher and an
 * edge room's alarm both run lanes through here.
 */
import type { LogEntry, Recipients } from "../../../protocol/index.ts";
import type { Limits } from "../../core/limits.ts";
import type { Store } from "../../core/store.ts";
import { conversationEvent, entryEvent, entryType, type OutgoingEvent } from "./events.ts";
import { type WebhookHashes, webCryptoHashes } from "./hashes.ts";
import { signedHeaders } from "./signature.ts";
import { retryAfterMs, type WebhookTransport } from "./transport.ts";
import type {
  ConversationEventRecord,
  WebhookCursor,
  WebhookEndpointRecord,
  WebhookStore,
} from "./webhook-store.ts";

/** Entries (and events) read per page. */
const PAGE = 50;
/** The longest `Retry-After` honoured: an endpoint cannot park a lane for days. */
const RETRY_AFTER_MAX_MS = 60 * 60_000;
/** The cursor is written after this many deliveries at most (and whenever the lane stops). */
const CURSOR_EVERY = 25;

/** What a host learns of each delivery attempt (its metrics). */
export interface DeliveryObserver {
  /**
   * One attempt: whether it was answered 2xx, and for one that was, how long (ms) after the
   * event happened (its commit) it was delivered.
   */
  attempted(delivered: boolean, lagMs: number | undefined): void;
}

export interface LaneContext {
  store: Store;
  webhooks: WebhookStore;
  transport: WebhookTransport;
  limits: Limits;
  now: () => number;
  /** Refuse private addresses for this endpoint (registered through the API in production). */
  publicOnly: boolean;
  /** Stop soon (the host is closing, or the endpoint was paused or removed). */
  signal?: AbortSignal | undefined;
  /** Stop after this time (an edge alarm has a budget); the lane then reports `more`. */
  deadline?: number | undefined;
  /** Told of each attempt (metrics); none: nothing is measured. */
  observer?: DeliveryObserver | undefined;
  /** Signatures and event ids (default: WebCrypto; see hashes.ts). */
  hashes?: WebhookHashes | undefined;
}

export type LaneOutcome =
  /** Caught up with the log. */
  | { kind: "done"; delivered: number }
  /** Stopped before catching up (deadline or abort): run it again. */
  | { kind: "more"; delivered: number }
  /**
   * A delivery failed: try again later (`retryAfterMs` when the endpoint asked for a time).
   * `paused`: the lane has failed past the retry window and its endpoint is now `failing`.
   */
  | { kind: "failed"; delivered: number; error: string; retryAfterMs?: number | undefined; paused: boolean };

type Item =
  | { kind: "entry"; entry: LogEntry; seq: number }
  | { kind: "event"; event: ConversationEventRecord };

const seqOf = (entry: LogEntry) => (entry.type === "message" ? entry.message.seq : entry.change.seq);

/** Runs one lane until it has caught up, fails, or must stop. */
export async function runLane(
  context: LaneContext,
  endpoint: WebhookEndpointRecord,
  conversationId: string,
): Promise<LaneOutcome> {
  const { app } = endpoint;
  const hashes = context.hashes ?? webCryptoHashes;
  const wanted = endpoint.events.length === 0 ? undefined : new Set<string>(endpoint.events);
  const stored = await context.webhooks.readCursor(app, endpoint.id, conversationId);
  const cursor: WebhookCursor = { lastSeq: stored.lastSeq, lastEvent: stored.lastEvent };
  let saved: WebhookCursor = { ...cursor };
  let failing = stored.failingSince !== null;
  let delivered = 0;
  const fail = async (error: string, retryAfterMs?: number): Promise<LaneOutcome> => {
    await save();
    const now = context.now();
    const status = await context.webhooks.laneFailed(
      app,
      endpoint.id,
      conversationId,
      error,
      new Date(now).toISOString(),
      new Date(now - context.limits.webhookRetryWindowMs).toISOString(),
    );
    return { kind: "failed", delivered, error, retryAfterMs, paused: status === "failing" };
  };
  const save = async () => {
    sinceSave = 0;
    if (cursor.lastSeq === saved.lastSeq && cursor.lastEvent === saved.lastEvent) return;
    await context.webhooks.advanceCursor(app, endpoint.id, conversationId, cursor);
    saved = { ...cursor };
  };
  // Counted across pages: when the lane keeps pace with the sends, every read finds only a few
  // new entries, and a count per page never reached CURSOR_EVERY (a crash then sent again every
  // event since the lane last caught up).
  let sinceSave = 0;
  const stopping = () =>
    context.signal?.aborted === true || (context.deadline !== undefined && context.now() >= context.deadline);

  for (let page = 0; page < 1_000; page++) {
    // Events first: every event read follows entries that are already committed, so the
    // entries read next reach at least as far as the events' places.
    const events = await context.webhooks.readEvents(app, conversationId, cursor.lastEvent, PAGE);
    const entries = await context.store.readLog(app, conversationId, {
      after: cursor.lastSeq,
      limit: PAGE,
      maxBytes: context.limits.pageBytes,
    });
    if (events.length === 0 && entries.length === 0) {
      await save();
      // Caught up: a lane that failed before (say, a read that raced a commit) is well again.
      if (failing) await context.webhooks.laneRecovered(app, endpoint.id, conversationId);
      return { kind: "done", delivered };
    }
    const first = entries[0];
    if (first && seqOf(first) !== cursor.lastSeq + 1) {
      // The log has no gaps; a hole here means a read raced a commit. Never skip: try again.
      return fail(`the log read after ${cursor.lastSeq} began at ${seqOf(first)}`);
    }
    const recipients = await recipientsFor(context, app, conversationId, entries, wanted);
    let progressed = false;
    while (!stopping()) {
      const item = next(events, entries, cursor);
      if (!item) break;
      const type = item.kind === "entry" ? entryType(item.entry) : item.event.type;
      if (!wanted || wanted.has(type)) {
        const outgoing =
          item.kind === "entry"
            ? await entryEvent(app, conversationId, item.entry, () => recipients(item.entry), hashes)
            : await conversationEvent(app, conversationId, item.event, hashes);
        const failure = await deliver(context, endpoint, outgoing);
        context.observer?.attempted(
          failure === undefined,
          failure === undefined ? context.now() - Date.parse(outgoing.timestamp) : undefined,
        );
        if (failure) return fail(failure.error, failure.retryAfterMs);
        delivered++;
        if (failing) {
          await context.webhooks.laneRecovered(app, endpoint.id, conversationId);
          failing = false;
        }
      }
      if (item.kind === "entry") {
        cursor.lastSeq = item.seq;
        entries.shift();
      } else {
        cursor.lastEvent = item.event.id;
        events.shift();
      }
      progressed = true;
      if (++sinceSave >= CURSOR_EVERY) await save();
    }
    if (stopping()) {
      await save();
      return { kind: "more", delivered };
    }
    if (!progressed) {
      // An event waits for entries this page did not reach: read again.
      return fail("an event's place in the log was not found yet");
    }
  }
  await save();
  return { kind: "more", delivered };
}

/**
 * The next item in order: an event whose place (`afterSeq`) the cursor has reached goes before
 * the next entry; otherwise the next entry. Undefined when this page has nothing deliverable.
 */
function next(
  events: ConversationEventRecord[],
  entries: LogEntry[],
  cursor: WebhookCursor,
): Item | undefined {
  const event = events[0];
  if (event && event.afterSeq <= cursor.lastSeq) return { kind: "event", event };
  const entry = entries[0];
  if (entry) return { kind: "entry", entry, seq: seqOf(entry) };
  return undefined;
}

/**
 * The recipients of a page's new messages: as recorded at commit, or, for a message committed
 * before its app had webhooks, every other member now as offline (better a needless
 * notification than a missed one).
 */
async function recipientsFor(
  context: LaneContext,
  app: string,
  conversationId: string,
  entries: readonly LogEntry[],
  wanted: Set<string> | undefined,
): Promise<(entry: LogEntry) => Recipients> {
  const seqs = entries.filter((e) => e.type === "message").map(seqOf);
  if (seqs.length === 0 || (wanted && !wanted.has("message.created")))
    return () => ({ online: [], offline: [] });
  const recorded = await context.webhooks.readRecipients(app, conversationId, seqs);
  const missing = seqs.some((seq) => !recorded.has(seq));
  const members = missing ? await context.webhooks.readMemberIds(app, conversationId) : [];
  return (entry) => {
    const found = recorded.get(seqOf(entry));
    if (found) return found;
    const sender = entry.type === "message" ? entry.message.senderId : undefined;
    return { online: [], offline: members.filter((m) => m !== sender) };
  };
}

/** One attempt: undefined on a 2xx, else what went wrong. */
async function deliver(
  context: LaneContext,
  endpoint: WebhookEndpointRecord,
  event: OutgoingEvent,
): Promise<{ error: string; retryAfterMs?: number | undefined } | undefined> {
  const timestamp = Math.floor(context.now() / 1000);
  let answer: Awaited<ReturnType<WebhookTransport>>;
  try {
    answer = await context.transport({
      url: endpoint.url,
      headers: {
        "content-type": "application/json",
        "user-agent": "Parley-Webhooks/1",
        ...(await signedHeaders(
          endpoint.secret,
          event.id,
          timestamp,
          event.body,
          (context.hashes ?? webCryptoHashes).sign,
        )),
      },
      body: event.body,
      timeoutMs: context.limits.webhookTimeoutMs,
      signal: context.signal,
      publicOnly: context.publicOnly,
    });
  } catch (error) {
    return { error: (error as Error).message };
  }
  if (answer.status >= 200 && answer.status < 300) return undefined;
  return {
    error: `HTTP ${answer.status}`,
    retryAfterMs: retryAfterMs(answer.retryAfter, context.now(), RETRY_AFTER_MAX_MS),
  };
}
