/**
 * The relay's metrics in one place (Node and Deno): a prom-client registry of its own (an
 * embedder's global registry is left alone) and the sinks the core, the store's group commit,
 * webhook delivery and the API report to. `GET /metrics` renders it as Prometheus text.
 *
 * The hot path only adds to plain numbers (fan-out, refusals, closes, requests); prom-client
 * reads them when scraped, in each metric's `collect`. Histograms are observed per group
 * commit and per webhook delivery, never per message or per connection. No label takes a
 * value a client chose: routes are patterns, close codes and limits come from fixed tables,
 * and conversation, user and app ids are never labels.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ApiMetrics } from "../../api/context.ts";
import type { CommitObserver } from "../../store/group-commit.ts";
import { RATE_LIMITS, type RateLimit, type RelayMetrics, type Transport } from "../core/metrics.ts";
import type { OutboundFrame } from "../core/outbound-frame.ts";
import type { ConnectionTransport, RelayHub } from "../host/local-directory.ts";
import type { DispatchObserver, WebhookDispatcher } from "../host/webhooks/dispatcher.ts";

/** What the gauges read when scraped. */
export interface MetricSources {
  hub: Pick<RelayHub, "loadedRooms" | "inboxCount" | "openConnections">;
  webhooks: Pick<WebhookDispatcher, "lanes">;
}

const TRANSPORTS: readonly ConnectionTransport[] = ["websocket", "sse", "long_poll"];

/**
 * The process's own metrics (CPU, memory, event-loop lag, GC, handles), registered once per
 * process: they describe the process, not one relay in it, and each collector costs a timer.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** A counter whose value is a number kept elsewhere, read when scraped. */
function tallied(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** The relay's metrics: its sinks, and the registry `GET /metrics` renders. */
export class RelayMetricsRegistry {
  readonly registry = new Registry();
  #sources: MetricSources | undefined;

  /** Plain numbers the hot path adds to; prom-client reads them when scraped. */
  readonly #n = {
    messages: 0,
    changes: 0,
    fanoutFrames: 0,
    fanoutBytes: 0,
    webhookDelivered: 0,
    webhookFailed: 0,
    webhookRetries: 0,
    webhookPaused: 0,
  };
  #rateLimited: Record<RateLimit, number> = {
    send_rate: 0,
    user_bytes: 0,
    socket_frames: 0,
    connections: 0,
    reads: 0,
  };
  /** By `${transport} ${code}`. */
  #closes = new Map<string, { transport: Transport; code: string; count: number }>();
  /** By `${method} ${route} ${status}`. */
  #requests = new Map<string, { method: string; route: string; status: string; count: number }>();

  readonly #commitEntries: Histogram;
  readonly #commitLatency: Histogram;
  readonly #commitWrite: Histogram;
  readonly #webhookLag: Histogram;

  /** `isPublic`: `GET /metrics` needs no credential. */
  constructor(isPublic: boolean) {
    const requests = this.#requests;
    this.api = {
      public: isPublic,
      scrape: async () => ({
        contentType: this.registry.contentType,
        text: (await processMetrics().metrics()) + (await this.registry.metrics()),
      }),
      rateLimited: (limit) => this.relay.rateLimited(limit),
      request: (method, route, status) => {
        const key = `${method} ${route} ${status}`;
        const known = requests.get(key);
        if (known) known.count++;
        else requests.set(key, { method, route, status: String(status), count: 1 });
      },
    };
    const registry = this.registry;
    const registers = [registry];
    const gauge = (name: string, help: string, read: (g: Gauge) => void, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          read(this);
        },
      });
    const n = this.#n;

    // HTTP
    new Counter({
      name: "parley_http_requests_total",
      help: "HTTP requests answered, by method, route pattern and status.",
      labelNames: ["method", "route", "status"],
      registers,
      collect() {
        this.reset();
        for (const r of requests.values())
          this.inc({ method: r.method, route: r.route, status: r.status }, r.count);
      },
    });

    // The log and its group commit
    tallied(
      registry,
      "parley_messages_stored_total",
      "Messages made durable (sends, once each).",
      () => n.messages,
    );
    tallied(
      registry,
      "parley_changes_stored_total",
      "Changes made durable (edits, deletions, reactions).",
      () => n.changes,
    );
    this.#commitEntries = new Histogram({
      name: "parley_group_commit_entries",
      help: "Log entries (messages and changes) written per group commit.",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.#commitLatency = new Histogram({
      name: "parley_group_commit_latency_seconds",
      help: "From a group's first batch handed in to the group durable (gathering and writing).",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.#commitWrite = new Histogram({
      name: "parley_commit_write_seconds",
      help: "The write of one group commit: its transaction and fsync.",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });

    // Actors and connections (read from the hub when scraped)
    gauge("parley_rooms_loaded", "Conversation rooms in memory.", (g) =>
      g.set(this.#sources?.hub.loadedRooms ?? 0),
    );
    gauge("parley_inboxes_loaded", "Inbox actors in memory (users with an inbox socket open).", (g) =>
      g.set(this.#sources?.hub.inboxCount ?? 0),
    );
    gauge(
      "parley_connections",
      "Open connections by transport: websocket (conversation and inbox sockets), sse, long_poll (held).",
      (g) => {
        for (const transport of TRANSPORTS)
          g.set({ transport }, this.#sources?.hub.openConnections(transport) ?? 0);
      },
      ["transport"],
    );

    // Fan-out, refusals, closes
    tallied(
      registry,
      "parley_fanout_frames_total",
      "Frames written by live fan-out, one per receiving connection.",
      () => n.fanoutFrames,
    );
    tallied(
      registry,
      "parley_fanout_bytes_total",
      "Bytes of those frames (the UTF-8 JSON of each, once per receiving connection).",
      () => n.fanoutBytes,
    );
    const rateLimited = this.#rateLimited;
    new Counter({
      name: "parley_rate_limited_total",
      help: "Refusals by a limit: send_rate, user_bytes, socket_frames, connections, reads.",
      labelNames: ["limit"],
      registers,
      collect() {
        this.reset();
        for (const limit of RATE_LIMITS) this.inc({ limit }, rateLimited[limit]);
      },
    });
    const closes = this.#closes;
    new Counter({
      name: "parley_closes_total",
      help: "Connections the relay closed, by close code (4008 too slow or too fast, 4009 replaced, …) and transport.",
      labelNames: ["code", "transport"],
      registers,
      collect() {
        this.reset();
        for (const c of closes.values()) this.inc({ code: c.code, transport: c.transport }, c.count);
      },
    });

    // Webhooks
    new Counter({
      name: "parley_webhook_deliveries_total",
      help: "Webhook delivery attempts by outcome: delivered (2xx) or failed.",
      labelNames: ["outcome"],
      registers,
      collect() {
        this.reset();
        this.inc({ outcome: "delivered" }, n.webhookDelivered);
        this.inc({ outcome: "failed" }, n.webhookFailed);
      },
    });
    tallied(
      registry,
      "parley_webhook_retries_total",
      "Webhook lanes (endpoint × conversation) that failed and were scheduled to retry.",
      () => n.webhookRetries,
    );
    tallied(
      registry,
      "parley_webhook_paused_total",
      "Webhook endpoints paused after failing for the whole retry window.",
      () => n.webhookPaused,
    );
    this.#webhookLag = new Histogram({
      name: "parley_webhook_lag_seconds",
      help: "From an event (its commit) to its delivery (the 2xx).",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400],
      registers,
    });
    gauge(
      "parley_webhook_lanes",
      "Webhook lanes running now, and waiting to retry after a failure.",
      (g) => {
        const lanes = this.#sources?.webhooks.lanes ?? { running: 0, retrying: 0 };
        g.set({ state: "running" }, lanes.running);
        g.set({ state: "retrying" }, lanes.retrying);
      },
      ["state"],
    );
  }

  /** The hub and the webhook dispatcher, once they exist: the gauges read them. */
  watch(sources: MetricSources): void {
    this.#sources = sources;
  }

  /** The core's sink: fan-out, refusals, closes. */
  readonly relay: RelayMetrics = {
    fannedOut: (connections: number, frame: OutboundFrame) => {
      this.#n.fanoutFrames += connections;
      // Counted from the text: `frame.bytes` would encode every fanned-out frame a second time
      // (the sockets write its WebSocket framing, made from the text), only to be counted.
      this.#n.fanoutBytes += connections * Buffer.byteLength(frame.text);
    },
    rateLimited: (limit: RateLimit) => {
      this.#rateLimited[limit]++;
    },
    closed: (code: number, transport: Transport) => {
      const key = `${transport} ${code}`;
      const known = this.#closes.get(key);
      if (known) known.count++;
      else this.#closes.set(key, { transport, code: String(code), count: 1 });
    },
  };

  /** The store's group commit. */
  readonly commits: CommitObserver = {
    committed: (_batches, messages, changes, latencyMs, writeMs) => {
      this.#n.messages += messages;
      this.#n.changes += changes;
      this.#commitEntries.observe(messages + changes);
      this.#commitLatency.observe(latencyMs / 1000);
      this.#commitWrite.observe(writeMs / 1000);
    },
  };

  /** Webhook delivery. */
  readonly webhooks: DispatchObserver = {
    attempted: (delivered, lagMs) => {
      if (!delivered) {
        this.#n.webhookFailed++;
        return;
      }
      this.#n.webhookDelivered++;
      if (lagMs !== undefined && Number.isFinite(lagMs)) this.#webhookLag.observe(Math.max(0, lagMs) / 1000);
    },
    retrying: () => {
      this.#n.webhookRetries++;
    },
    paused: () => {
      this.#n.webhookPaused++;
    },
  };

  /** The API's side: `GET /metrics` and the request counts. */
  readonly api: ApiMetrics;
}
