/**
 * Webhook delivery for one conversation's actor on the edge (a Durable Object): no process
 * outlives a request there, so the room's alarm drives the same lanes the Node dispatcher runs,
 * from the same cursors in the store. A commit sets the alarm; the alarm runs every endpoint's
 * lane of this conversation for a bounded time and sets the next alarm for the earliest retry.
 * Alarms are durable, so a failing lane is retried after an eviction or a restart, and the
 * backoff needs no memory: each wait is about as long as the lane has been failing (so the
 * waits double), with jitter, within the configured bounds.
 */
import type { RoomWebhooks } from "../../core/conversation-room.ts";
import type { Limits } from "../../core/limits.ts";
import type { OnError } from "../../core/log.ts";
import type { Store } from "../../core/store.ts";
import { isConfigured } from "./endpoints.ts";
import { type LaneOutcome, runLane } from "./lane.ts";
import type { WebhookTransport } from "./transport.ts";
import type { WebhookEndpointRecord, WebhookStore } from "./webhook-store.ts";

export interface ActorWebhookDeps {
  store: Store;
  webhooks: WebhookStore;
  transport: WebhookTransport;
  limits: Limits;
  /** Endpoints registered through the API may not point inward (production). */
  publicOnly: boolean;
  /** Asks the runtime to run `run` at `at` (ms since the epoch), or sooner if already set sooner. */
  setAlarm: (at: number) => void;
  onError: OnError;
  now?: () => number;
  random?: () => number;
}

/** How long an alarm may deliver before it hands over to the next one. */
const ALARM_BUDGET_MS = 20_000;
/** Endpoints are read again at most this often (a new endpoint is seen within it). */
const ENDPOINTS_TTL_MS = 5_000;

export class ActorWebhooks implements RoomWebhooks {
  #endpoints: WebhookEndpointRecord[] = [];
  /**
   * Lanes waiting out a backoff, by endpoint id: when each may be tried again. A commit sets
   * the alarm to now, and this keeps it from retrying a failing lane early (after an eviction
   * it is gone, and the lane is tried at the alarm that was set for it).
   */
  readonly #retryAt = new Map<string, number>();
  #running = false;
  #again = false;
  #loadedAt = Number.NEGATIVE_INFINITY;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(
    private readonly app: string,
    private readonly conversationId: string,
    private readonly deps: ActorWebhookDeps,
  ) {
    this.#now = deps.now ?? Date.now;
    this.#random = deps.random ?? Math.random;
  }

  /**
   * Reads the app's endpoints (at most once per TTL unless `force`). Each caller reads for
   * itself: on workerd a promise started by one request never settles for another request
   * that awaits it, so an in-flight read is not shared.
   */
  async refresh(force = false): Promise<void> {
    if (!force && this.#now() - this.#loadedAt < ENDPOINTS_TTL_MS) return;
    this.#endpoints = await this.deps.webhooks.listEndpoints(this.app);
    this.#loadedAt = this.#now();
  }

  /** The endpoints are known (read once; later reads happen in the background). */
  async ready(): Promise<void> {
    if (this.#loadedAt === Number.NEGATIVE_INFINITY) await this.refresh();
  }

  active(app: string): boolean {
    if (app !== this.app) return false;
    if (this.#now() - this.#loadedAt >= ENDPOINTS_TTL_MS) void this.refresh().catch(() => undefined);
    return this.#endpoints.length > 0;
  }

  /** Reads the endpoints now and rings the alarm if one may have work (a new conversation, a resume). */
  async wake(): Promise<void> {
    await this.refresh(true);
    if (this.#endpoints.some((e) => e.status === "active")) this.deps.setAlarm(this.#now());
  }

  /**
   * Something was committed: deliver soon. With no endpoint known, look again first (one may be
   * new); an entry is never left without an alarm because a list was stale.
   */
  changed(app: string, conversationId: string): void {
    if (app !== this.app || conversationId !== this.conversationId) return;
    if (this.#endpoints.some((e) => e.status === "active")) {
      this.deps.setAlarm(this.#now());
      return;
    }
    this.refresh(true).then(
      () => {
        if (this.#endpoints.some((e) => e.status === "active")) this.deps.setAlarm(this.#now());
      },
      (error: unknown) => this.deps.onError(error, "reading the webhook endpoints failed", { app: this.app }),
    );
  }

  /**
   * The alarm: runs every active endpoint's lane of this conversation (side by side) until they
   * are caught up, fail, or the budget is spent. Returns when to run again, or undefined. One
   * run at a time: a run asked for while one is going returns at once, and the going one then
   * asks to run again now (two runs of one lane would send its next event twice).
   */
  async run(): Promise<number | undefined> {
    if (this.#running) {
      this.#again = true;
      return undefined;
    }
    this.#running = true;
    this.#again = false;
    try {
      const next = await this.#run();
      return this.#again ? this.#now() : next;
    } finally {
      this.#running = false;
    }
  }

  async #run(): Promise<number | undefined> {
    await this.refresh(true);
    const now = this.#now();
    const deadline = now + ALARM_BUDGET_MS;
    const active = this.#endpoints.filter((e) => e.status === "active");
    for (const id of this.#retryAt.keys()) if (!active.some((e) => e.id === id)) this.#retryAt.delete(id);
    const waiting = active.flatMap((e) => {
      const at = this.#retryAt.get(e.id);
      return at !== undefined && at > now ? [at] : [];
    });
    const outcomes = await Promise.all(
      active
        .filter((e) => (this.#retryAt.get(e.id) ?? 0) <= now)
        .map((endpoint) =>
          runLane(
            {
              store: this.deps.store,
              webhooks: this.deps.webhooks,
              transport: this.deps.transport,
              limits: this.deps.limits,
              now: this.#now,
              publicOnly: this.deps.publicOnly && !isConfigured(endpoint.id),
              deadline,
            },
            endpoint,
            this.conversationId,
          ).then(
            async (outcome) => {
              const at = await this.#nextRun(endpoint, outcome);
              if (outcome.kind === "failed" && at !== undefined) this.#retryAt.set(endpoint.id, at);
              else this.#retryAt.delete(endpoint.id);
              return at;
            },
            (error: unknown) => {
              this.deps.onError(error, "webhook lane failed", {
                app: this.app,
                conversationId: this.conversationId,
                endpoint: endpoint.id,
              });
              return this.#now() + this.deps.limits.webhookRetryBaseMs;
            },
          ),
        ),
    );
    const next = [...waiting, ...outcomes.filter((at): at is number => at !== undefined)];
    return next.length === 0 ? undefined : Math.min(...next);
  }

  /** When this lane wants to run again: now for more, after a backoff for a failure, never when done. */
  async #nextRun(endpoint: WebhookEndpointRecord, outcome: LaneOutcome): Promise<number | undefined> {
    const now = this.#now();
    if (outcome.kind === "done") return undefined;
    if (outcome.kind === "more") return now;
    if (outcome.paused) return undefined;
    if (outcome.retryAfterMs !== undefined) return now + outcome.retryAfterMs;
    const { failingSince } = await this.deps.webhooks.readCursor(
      endpoint.app,
      endpoint.id,
      this.conversationId,
    );
    const failingFor = failingSince === null ? 0 : now - Date.parse(failingSince);
    const { webhookRetryBaseMs: base, webhookRetryMaxMs: max } = this.deps.limits;
    const wait = Math.min(max, Math.max(base, failingFor));
    return now + wait / 2 + (this.#random() * wait) / 2;
  }
}
