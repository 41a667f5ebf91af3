/**
 * The app's back end on the edge, once per isolate: the configuration's endpoints brought into
 * the store (before anything reads the endpoints), the pre-send hooks, each room actor's
 * alarm-driven delivery, and `/v1/webhooks`. Delivery itself is the shared lane code (see
 * party/host/webhooks/actor-webhooks.ts); only the wiring lives here.
 */
import type { LibsqlStore } from "../../store/libsql-store.ts";
import type { Limits } from "../core/limits.ts";
import type { OnError } from "../core/log.ts";
import { ActorWebhooks } from "../host/webhooks/actor-webhooks.ts";
import type { AppWebhookConfig } from "../host/webhooks/config.ts";
import { StoreWebhookAdmin, syncConfiguredEndpoints, type WebhookAdmin } from "../host/webhooks/endpoints.ts";
import { PreSendHooks } from "../host/webhooks/hook.ts";
import { fetchTransport } from "../host/webhooks/transport.ts";
import { edgeLog } from "./log.ts";

/** Lanes of a resumed endpoint woken at once (the rest on their next commit or alarm). */
const RESUME_WAKES = 1_000;

/** A receiver or hook that fails is the receiver's trouble, retried: a warning. */
const warn: OnError = (error, context, fields) => edgeLog.warn({ ...fields, err: error }, context);

export class EdgeWebhooks {
  /** The apps' pre-send hooks; undefined when no app has one. */
  readonly screen: PreSendHooks | undefined;
  #synced = false;

  constructor(
    private readonly store: LibsqlStore,
    private readonly configured: ReadonlyMap<string, AppWebhookConfig>,
    private readonly limits: Limits,
    /** Endpoints registered through `/v1/webhooks` may not point inward (production). */
    private readonly publicOnly: boolean,
  ) {
    const hooks = new Map([...configured].flatMap(([app, c]) => (c.hook ? [[app, c.hook] as const] : [])));
    this.screen =
      hooks.size === 0
        ? undefined
        : new PreSendHooks({ hooks, transport: fetchTransport, limits, now: Date.now, onError: warn });
  }

  /**
   * The configuration's endpoints are in the store: once per isolate (again after a failure).
   * Idempotent, so isolates that start side by side do no harm. Not one shared promise: the
   * Worker and every object of the isolate share this instance, and workerd never settles a
   * promise for a caller whose I/O context is not the one that started it (the caller hangs),
   * so each caller that comes before the first sync finished runs its own.
   */
  async ready(): Promise<void> {
    if (this.#synced) return;
    await syncConfiguredEndpoints(
      this.store.webhooks,
      new Map([...this.configured].map(([app, c]) => [app, c.webhooks])),
      Date.now(),
    );
    this.#synced = true;
  }

  /** One room actor's delivery; `setAlarm` asks the actor's runtime to call `run()` at a time. */
  forRoom(app: string, conversationId: string, setAlarm: (at: number) => void): ActorWebhooks {
    return new ActorWebhooks(app, conversationId, {
      store: this.store,
      webhooks: this.store.webhooks,
      transport: fetchTransport,
      limits: this.limits,
      publicOnly: this.publicOnly,
      setAlarm,
      onError: warn,
    });
  }

  /**
   * `/v1/webhooks` over the store. A resumed endpoint wakes the rooms it is behind in (their
   * alarms deliver); a new one is seen by each room within a few seconds, or at its next commit.
   */
  admin(wakeRoom: (app: string, conversationId: string) => Promise<void>): WebhookAdmin {
    const store = this.store.webhooks;
    const admin = new StoreWebhookAdmin(store, this.publicOnly, {
      changed: () => undefined,
      async resumed(app, endpointId) {
        const lanes = await store.pendingLanes(RESUME_WAKES, { app, endpointId });
        const rooms = [...new Set(lanes.map((lane) => lane.conversationId))];
        const woken = await Promise.allSettled(rooms.map((id) => wakeRoom(app, id)));
        for (const result of woken) if (result.status === "rejected") warn(result.reason, "waking a room");
      },
    });
    // Every call sees the configuration's endpoints (listed, not removable, counted apart).
    const synced = <T>(call: () => Promise<T>) => this.ready().then(call);
    return {
      create: (app, input) => synced(() => admin.create(app, input)),
      list: (app) => synced(() => admin.list(app)),
      remove: (app, id) => synced(() => admin.remove(app, id)),
      resume: (app, id) => synced(() => admin.resume(app, id)),
    };
  }
}
