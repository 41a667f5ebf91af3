/**
 * Managing an app's endpoints with its server key (`/v1/webhooks`): the rules every host
 * shares — how a new endpoint is made, how one is shown, what may be removed.
 */
import type { WebhookEndpointView, WebhookEventType } from "../../../protocol/index.ts";
import { ParleyError } from "../../core/errors.ts";
import { randomId } from "../../core/ids.ts";
import type { ConfiguredEndpoint } from "./config.ts";
import { newWebhookSecret } from "./signature.ts";
import { checkWebhookUrl } from "./url-policy.ts";
import type { WebhookEndpointRecord, WebhookStore } from "./webhook-store.ts";

/** Endpoints one app may register (the configuration's are not counted). */
export const MAX_ENDPOINTS_PER_APP = 20;

/** What `/v1/webhooks` asks of its host. */
export interface WebhookAdmin {
  /** Registers an endpoint; its view carries its secret, shown this once. */
  create(
    app: string,
    input: { url: string; events?: WebhookEventType[] | undefined },
  ): Promise<WebhookEndpointView & { secret: string }>;
  list(app: string): Promise<WebhookEndpointView[]>;
  /** 404 when there is no such endpoint; 409 for one from the relay's configuration. */
  remove(app: string, id: string): Promise<void>;
  /** A paused endpoint goes on from its cursors; 404 when there is none. */
  resume(app: string, id: string): Promise<WebhookEndpointView>;
}

/** How an endpoint is shown: never its secret (except once, at creation). */
export function endpointView(record: WebhookEndpointRecord): WebhookEndpointView {
  const view: WebhookEndpointView = {
    id: record.id,
    url: record.url,
    events: record.events,
    status: record.status,
    createdAt: record.createdAt,
  };
  if (record.failingSince !== null) view.failingSince = record.failingSince;
  if (record.lastError !== null) view.lastError = record.lastError;
  return view;
}

/** Endpoints whose id starts so come from the relay's configuration. */
export const isConfigured = (id: string) => id.startsWith("cfg_");

/** A new endpoint's record, after checking its URL and the app's count. */
export function newEndpoint(
  app: string,
  input: { url: string; events?: WebhookEventType[] | undefined },
  existing: readonly WebhookEndpointRecord[],
  publicOnly: boolean,
  now: number,
): WebhookEndpointRecord {
  if (existing.filter((e) => !isConfigured(e.id)).length >= MAX_ENDPOINTS_PER_APP)
    throw new ParleyError(
      "conflict",
      `an app may register at most ${MAX_ENDPOINTS_PER_APP} webhook endpoints`,
    );
  checkWebhookUrl(input.url, publicOnly);
  return {
    app,
    id: randomId("wh_"),
    url: input.url,
    secret: newWebhookSecret(),
    events: [...new Set(input.events ?? [])],
    status: "active",
    lastError: null,
    failingSince: null,
    createdAt: new Date(now).toISOString(),
  };
}

/** Refuses to remove an endpoint the configuration declares (it would come back at the next start). */
export function assertRemovable(id: string): void {
  if (isConfigured(id))
    throw new ParleyError(
      "conflict",
      "this endpoint comes from the relay's configuration (PARLEY_WEBHOOK_URL or PARLEY_APPS): remove it there",
    );
}

/**
 * Brings the configuration's endpoints into the store: declared ones are added or updated (a
 * new one starts at the present; one kept keeps its cursors and status), `cfg_` ones no longer
 * declared are removed. Idempotent: every edge isolate runs it once.
 */
export async function syncConfiguredEndpoints(
  webhooks: WebhookStore,
  configured: ReadonlyMap<string, readonly ConfiguredEndpoint[]>,
  now: number,
): Promise<void> {
  for (const record of await webhooks.listEndpoints()) {
    const declared = configured.get(record.app)?.some((c) => c.id === record.id);
    if (isConfigured(record.id) && !declared) await webhooks.deleteEndpoint(record.app, record.id);
  }
  const createdAt = new Date(now).toISOString();
  for (const [app, endpoints] of configured) {
    for (const c of endpoints) {
      await webhooks.upsertEndpoint({
        app,
        ...c,
        status: "active",
        lastError: null,
        failingSince: null,
        createdAt,
      });
    }
  }
}

export const noSuchEndpoint = (id: string) => new ParleyError("not_found", `no webhook endpoint "${id}"`);

/** What a host does when an app's endpoints change. */
export interface EndpointListener {
  /** An endpoint was created, removed or resumed (`record` undefined: removed). */
  changed(app: string, id: string, record: WebhookEndpointRecord | undefined): void;
  /** A resumed endpoint: deliver what its cursors are behind on. */
  resumed(app: string, id: string): Promise<void>;
}

/** `/v1/webhooks` over the store, the same on every host; the host hears of each change. */
export class StoreWebhookAdmin implements WebhookAdmin {
  constructor(
    private readonly store: WebhookStore,
    private readonly publicOnly: boolean,
    private readonly listener: EndpointListener,
    private readonly now: () => number = Date.now,
  ) {}

  async create(app: string, input: { url: string; events?: WebhookEventType[] | undefined }) {
    const record = newEndpoint(app, input, await this.store.listEndpoints(app), this.publicOnly, this.now());
    await this.store.createEndpoint(record);
    this.listener.changed(app, record.id, record);
    return { ...endpointView(record), secret: record.secret };
  }

  async list(app: string): Promise<WebhookEndpointView[]> {
    return (await this.store.listEndpoints(app)).map(endpointView);
  }

  async remove(app: string, id: string): Promise<void> {
    assertRemovable(id);
    if (!(await this.store.deleteEndpoint(app, id))) throw noSuchEndpoint(id);
    this.listener.changed(app, id, undefined);
  }

  async resume(app: string, id: string): Promise<WebhookEndpointView> {
    const record = await this.store.resumeEndpoint(app, id);
    if (!record) throw noSuchEndpoint(id);
    this.listener.changed(app, id, record);
    await this.listener.resumed(app, id);
    return endpointView(record);
  }
}
