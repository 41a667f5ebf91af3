/**
 * Webhook delivery for a single-process host (Node, Deno): every lane (endpoint ×
 * conversation) of every app, run by `runLane` with bounded concurrency. A commit wakes the
 * lanes of its conversation (a Map lookup on the room's path, nothing more: a slow endpoint
 * never slows a send); a periodic scan of the store's cursors finds what no commit woke
 * (deliveries left over by a restart or a crash, a resumed endpoint). Lanes of one endpoint
 * share the slots fairly with other endpoints'; a failing lane waits with exponential backoff
 * and jitter, or as long as `Retry-After` asks.
 */
import type { RoomWebhooks } from "../../core/conversation-room.ts";
import type { Limits } from "../../core/limits.ts";
import { type LogFields, type OnError, urlForLog } from "../../core/log.ts";
import type { Store } from "../../core/store.ts";
import type { ConfiguredEndpoint } from "./config.ts";
import { isConfigured, StoreWebhookAdmin, syncConfiguredEndpoints, type WebhookAdmin } from "./endpoints.ts";
import type { WebhookHashes } from "./hashes.ts";
import { type DeliveryObserver, type LaneOutcome, runLane } from "./lane.ts";
import type { WebhookTransport } from "./transport.ts";
import type { WebhookEndpointRecord, WebhookStore } from "./webhook-store.ts";

export interface DispatcherOptions {
  store: Store;
  webhooks: WebhookStore;
  transport: WebhookTransport;
  limits: Limits;
  /** Endpoints from the configuration, by app. */
  configured: ReadonlyMap<string, readonly ConfiguredEndpoint[]>;
  /** Refuse internal addresses for endpoints registered through the API (production). */
  publicOnly: boolean;
  onError: OnError;
  /** Notable changes (an endpoint paused), for the operator's log. */
  warn: (message: string, fields?: LogFields) => void;
  now?: () => number;
  random?: () => number;
  /** Told of deliveries, retries and pauses (the host's metrics). */
  observer?: DispatchObserver | undefined;
  /** Signatures and event ids (default: WebCrypto; Node passes node:crypto, see hashes.ts). */
  hashes?: WebhookHashes | undefined;
}

/** What a host learns of delivery: each attempt, and each lane that will retry or was paused. */
export interface DispatchObserver extends DeliveryObserver {
  /** A lane failed and will try again after a backoff (or `Retry-After`). */
  retrying(): void;
  /** An endpoint failed past the retry window and was paused. */
  paused(): void;
}

interface Lane {
  key: string;
  app: string;
  endpointId: string;
  conversationId: string;
  state: "queued" | "running" | "waiting";
  /** Woken while running: run again when this run ends. */
  dirty: boolean;
  /** Failures in a row (the backoff grows with them). */
  attempts: number;
  timer?: ReturnType<typeof setTimeout> | undefined;
}

interface Endpoint {
  record: WebhookEndpointRecord;
  /** Aborted when the endpoint is paused or removed, or the dispatcher closes: its deliveries in flight stop. */
  abort: AbortController;
  queue: Lane[];
  running: number;
  /** When a failure of this endpoint was last logged (one line a minute at most). */
  loggedAt: number;
}

/** Lanes looked up per scan; a scan that finds this many looks again soon. */
const SCAN_BATCH = 1_000;

const endpointKey = (app: string, id: string) => `${app}\u0000${id}`;
const laneKey = (app: string, id: string, conversationId: string) =>
  `${app}\u0000${id}\u0000${conversationId}`;

export class WebhookDispatcher implements RoomWebhooks {
  #endpoints = new Map<string, Endpoint>();
  /** Endpoint keys by app, for the room's per-commit lookup. */
  #byApp = new Map<string, Set<string>>();
  /** Lanes with something to do (queued, running, or waiting to retry); idle lanes are forgotten. */
  #lanes = new Map<string, Lane>();
  #running = 0;
  #runs = new Set<Promise<void>>();
  #scanTimer: ReturnType<typeof setInterval> | undefined;
  /** Set by close(): no lane starts, no scan runs, no outcome is acted on after it. */
  #closed = false;
  readonly #now: () => number;
  readonly #random: () => number;

  /** `/v1/webhooks` for this host: endpoints change in the store, then in memory. */
  readonly admin: WebhookAdmin;

  constructor(private readonly options: DispatcherOptions) {
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.admin = new StoreWebhookAdmin(
      options.webhooks,
      options.publicOnly,
      {
        changed: (app, id, record) => {
          this.#forget(app, id);
          if (record) this.#remember(record);
        },
        resumed: (app, id) => this.scan({ app, endpointId: id }),
      },
      this.#now,
    );
  }

  /**
   * Brings the configuration's endpoints into the store (removing those it no longer has),
   * loads every endpoint, and starts the scans: deliveries a previous run left go out now.
   */
  async start(): Promise<void> {
    const { webhooks } = this.options;
    await syncConfiguredEndpoints(webhooks, this.options.configured, this.#now());
    for (const record of await webhooks.listEndpoints()) this.#remember(record);
    await this.scan();
    this.#scanTimer = setInterval(() => void this.scan(), this.options.limits.webhookScanMs);
    (this.#scanTimer as { unref?: () => void }).unref?.();
  }

  // ---- the room's seam ---------------------------------------------------------------------

  active(app: string): boolean {
    return (this.#byApp.get(app)?.size ?? 0) > 0;
  }

  changed(app: string, conversationId: string): void {
    const keys = this.#byApp.get(app);
    if (!keys) return;
    for (const key of keys) {
      const endpoint = this.#endpoints.get(key);
      if (endpoint?.record.status === "active") this.#want(endpoint, conversationId);
    }
  }

  /** Looks in the store for lanes that are behind (all of them, or one app's or endpoint's). */
  async scan(filter?: { app: string; endpointId?: string }): Promise<void> {
    if (this.#closed) return;
    let pending: Awaited<ReturnType<WebhookStore["pendingLanes"]>>;
    try {
      pending = await this.options.webhooks.pendingLanes(SCAN_BATCH, filter);
    } catch (error) {
      this.options.onError(error, "webhook scan failed");
      return;
    }
    for (const lane of pending) {
      const endpoint = this.#endpoints.get(endpointKey(lane.app, lane.endpointId));
      if (endpoint?.record.status === "active") this.#want(endpoint, lane.conversationId);
    }
  }

  // ---- /v1/webhooks ----------------------------------------------------------------------

  // ---- lanes -------------------------------------------------------------------------------

  #remember(record: WebhookEndpointRecord): void {
    const key = endpointKey(record.app, record.id);
    this.#endpoints.set(key, { record, abort: new AbortController(), queue: [], running: 0, loggedAt: 0 });
    let keys = this.#byApp.get(record.app);
    if (!keys) {
      keys = new Set();
      this.#byApp.set(record.app, keys);
    }
    keys.add(key);
  }

  /** Drops an endpoint from memory: its deliveries in flight stop, its lanes are forgotten. */
  #forget(app: string, id: string): void {
    const key = endpointKey(app, id);
    const endpoint = this.#endpoints.get(key);
    if (!endpoint) return;
    endpoint.abort.abort();
    this.#endpoints.delete(key);
    this.#byApp.get(app)?.delete(key);
    for (const [laneId, lane] of this.#lanes) {
      if (lane.app !== app || lane.endpointId !== id) continue;
      clearTimeout(lane.timer);
      this.#lanes.delete(laneId);
    }
  }

  /** A lane has (maybe) something to deliver. */
  #want(endpoint: Endpoint, conversationId: string): void {
    const { app, id } = endpoint.record;
    const key = laneKey(app, id, conversationId);
    const lane = this.#lanes.get(key);
    if (!lane) {
      const fresh: Lane = {
        key,
        app,
        endpointId: id,
        conversationId,
        state: "queued",
        dirty: false,
        attempts: 0,
      };
      this.#lanes.set(key, fresh);
      endpoint.queue.push(fresh);
      this.#pump();
      return;
    }
    // Queued: it will read everything. Waiting: its retry will. Running: once more after.
    if (lane.state === "running") lane.dirty = true;
  }

  /** Starts lanes while slots are free, always from the endpoint with the fewest running. */
  #pump(): void {
    while (this.#running < this.options.limits.webhookConcurrency && !this.#closed) {
      let chosen: Endpoint | undefined;
      for (const endpoint of this.#endpoints.values()) {
        if (endpoint.queue.length === 0) continue;
        if (!chosen || endpoint.running < chosen.running) chosen = endpoint;
      }
      const lane = chosen?.queue.shift();
      if (!chosen || !lane) return;
      this.#start(chosen, lane);
    }
  }

  #start(endpoint: Endpoint, lane: Lane): void {
    lane.state = "running";
    lane.dirty = false;
    this.#running++;
    endpoint.running++;
    const run = runLane(
      {
        store: this.options.store,
        webhooks: this.options.webhooks,
        transport: this.options.transport,
        limits: this.options.limits,
        now: this.#now,
        publicOnly: this.options.publicOnly && !isConfigured(endpoint.record.id),
        // The endpoint's own signal, which close() aborts too: one signal for all its lane runs
        // (AbortSignal.any per run cost each run a new signal and its listeners).
        signal: endpoint.abort.signal,
        observer: this.options.observer,
        hashes: this.options.hashes,
      },
      endpoint.record,
      lane.conversationId,
    )
      .then(
        (outcome) => this.#ended(endpoint, lane, outcome),
        (error: unknown) => {
          // The store could not be read or written: the lane tries again later.
          this.options.onError(error, "webhook lane failed", {
            app: endpoint.record.app,
            conversationId: lane.conversationId,
            endpoint: endpoint.record.id,
          });
          this.#ended(endpoint, lane, { kind: "failed", delivered: 0, error: String(error), paused: false });
        },
      )
      .finally(() => {
        this.#running--;
        endpoint.running--;
        this.#runs.delete(run);
        this.#pump();
      });
    this.#runs.add(run);
  }

  #ended(endpoint: Endpoint, lane: Lane, outcome: LaneOutcome): void {
    // Removed, paused or resumed meanwhile: this lane belongs to an endpoint that is gone.
    if (this.#lanes.get(lane.key) !== lane || this.#closed) return;
    if (outcome.kind === "failed") {
      if (outcome.paused) {
        this.options.observer?.paused();
        this.options.warn(
          `webhook endpoint ${endpoint.record.id} of app ${endpoint.record.app} failed for longer than the retry window and is paused (POST /v1/webhooks/${endpoint.record.id}/resume continues): ${outcome.error}`,
          { app: endpoint.record.app, conversationId: lane.conversationId, endpoint: endpoint.record.id },
        );
        this.#forget(endpoint.record.app, endpoint.record.id);
        this.#remember({ ...endpoint.record, status: "failing" });
        return;
      }
      // A run that delivered something before it failed ends the failing streak it was in:
      // the backoff starts again from its base, as the edge's does (its wait follows how long
      // the lane has been failing, which a delivery resets).
      if (outcome.delivered > 0) lane.attempts = 0;
      lane.attempts++;
      lane.state = "waiting";
      this.options.observer?.retrying();
      const now = this.#now();
      if (now - endpoint.loggedAt >= 60_000) {
        endpoint.loggedAt = now;
        this.options.warn(
          `webhook endpoint ${endpoint.record.id} of app ${endpoint.record.app} (${urlForLog(endpoint.record.url)}) failed: ${outcome.error}; retrying with backoff`,
          { app: endpoint.record.app, conversationId: lane.conversationId, endpoint: endpoint.record.id },
        );
      }
      lane.timer = setTimeout(() => {
        lane.timer = undefined;
        if (this.#lanes.get(lane.key) !== lane) return;
        lane.state = "queued";
        endpoint.queue.push(lane);
        this.#pump();
      }, outcome.retryAfterMs ?? this.#backoff(lane.attempts));
      (lane.timer as { unref?: () => void }).unref?.();
      return;
    }
    lane.attempts = 0;
    if (outcome.kind === "more" || lane.dirty) {
      lane.state = "queued";
      endpoint.queue.push(lane);
      return;
    }
    this.#lanes.delete(lane.key);
  }

  /** Lanes running now, and lanes waiting to retry after a failure (the metrics' gauges). */
  get lanes(): { running: number; retrying: number } {
    let retrying = 0;
    for (const lane of this.#lanes.values()) if (lane.state === "waiting") retrying++;
    return { running: this.#running, retrying };
  }

  /** Exponential backoff with jitter: half of the doubled wait, plus a random part of the other half. */
  #backoff(attempts: number): number {
    const { webhookRetryBaseMs: base, webhookRetryMaxMs: max } = this.options.limits;
    const wait = Math.min(max, base * 2 ** Math.min(attempts - 1, 30));
    return wait / 2 + (this.#random() * wait) / 2;
  }

  /** Stops: deliveries in flight are aborted (their cursors are kept), timers cleared. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const endpoint of this.#endpoints.values()) endpoint.abort.abort();
    clearInterval(this.#scanTimer);
    for (const lane of this.#lanes.values()) clearTimeout(lane.timer);
    await Promise.allSettled([...this.#runs]);
  }
}
