/**
 * `createRelay`: Parley embedded in a Node process. It gives a web-standard `fetch` handler and
 * the socket upgrade, so a SaaS back end can mount Parley beside its own routes; `npm start`
 * is a thin command over the same function.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import { createApi } from "../../api/app.ts";
import { openStore } from "../../store/open.ts";
import type { Limits } from "../core/limits.ts";
import type { OnError } from "../core/log.ts";
import { Authenticator } from "../host/auth.ts";
import { RelayHub } from "../host/local-directory.ts";
import type { HmacSha256 } from "../host/plain-hs256.ts";
import { Profiles } from "../host/profiles.ts";
import { WebhookDispatcher } from "../host/webhooks/dispatcher.ts";
import { PreSendHooks } from "../host/webhooks/hook.ts";
import { answerClientErrors } from "./client-errors.ts";
import { type RelayConfig, type RelayOptions, resolveConfig } from "./config.ts";
import { swaggerUiAssets } from "./docs-assets.ts";
import { enforceHandshakeTimeout } from "./handshake-timeout.ts";
import { InflightRequests } from "./inflight-requests.ts";
import { RelayMetricsRegistry } from "./metrics.ts";
import { nodeWebhookHashes } from "./webhook-hashes.ts";
import { nodeWebhookTransport } from "./webhook-transport.ts";
import { NodeWebSocketGateway } from "./websocket-gateway.ts";
import { bundleWidget } from "./widget-bundle.ts";

/**
 * The longest a shutdown waits for the requests being answered (a committed send's 201, a
 * long-poll's last answer) before it drops the connections that remain.
 */
const SHUTDOWN_DRAIN_MS = 5_000;

/** Node's synchronous HMAC: user tokens are checked without crypto.subtle's thread-pool trip. */
const hmacSha256: HmacSha256 = (key, data) => createHmac("sha256", key).update(data).digest();

export interface Relay {
  readonly config: RelayConfig;
  /** The HTTP API as a web-standard handler (mount it in Hono, or anywhere that speaks fetch). */
  fetch(request: Request): Response | Promise<Response>;
  /** Node's `request` listener for the same API. */
  readonly requestListener: ReturnType<typeof getRequestListener>;
  /** Node's `upgrade` listener for `/parties/conversation/*` and `/parties/inbox/*`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Serves Parley's sockets on a Node server of yours: adds the `upgrade` listener and the
   * handshake timeout (`limits.handshakeTimeoutMs`: a connection that has not sent its
   * request headers by then is dropped, for your routes too). Requests stay yours to route;
   * pass Parley's to `requestListener`.
   */
  attach(server: Server): void;
  /** Starts a Node HTTP server on the configured (or given) port and host. */
  listen(port?: number, host?: string): Promise<{ server: Server; url: string; port: number }>;
  /** Graceful stop: commits pending sends, closes sockets with 1001, closes the store. */
  close(): Promise<void>;
  /** The process-wide actor registry (for advanced embedding and tests). */
  readonly hub: RelayHub;
  /**
   * The relay's metrics (its prom-client registry is `metrics.registry`, to merge into yours);
   * undefined with `PARLEY_METRICS=0`.
   */
  readonly metrics: RelayMetricsRegistry | undefined;
}

/**
 * How long an HTTP connection may go without any byte moving: longer than the longest
 * long-poll and than two SSE keep-alives (which write while a stream is idle).
 */
const idleTimeoutMs = (limits: Limits) =>
  Math.max(limits.maxWaitSeconds * 1000, 2 * limits.sseKeepAliveMs) + 15_000;

/** Creates the relay: opens (and migrates) the store, builds the API and the socket gateway. */
export async function createRelay(options: RelayOptions = {}): Promise<Relay> {
  const config = await resolveConfig(options);
  const { logger: log, limits } = config;
  const metrics = config.metrics ? new RelayMetricsRegistry(config.metricsPublic) : undefined;
  const store = await openStore({
    url: config.dbUrl,
    authToken: config.dbAuthToken,
    sync: config.dbSync,
    busyTimeoutMs: config.dbBusyTimeoutMs,
    schedule: setImmediate,
    commitObserver: metrics?.commits,
  });
  const onError: OnError = (error, context, fields) => log.error({ ...fields, err: error }, context);
  // A webhook receiver or hook that fails is the receiver's trouble, retried: a warning.
  const onWebhookError: OnError = (error, context, fields) => log.warn({ ...fields, err: error }, context);
  const webhooks = new WebhookDispatcher({
    store,
    webhooks: store.webhooks,
    transport: nodeWebhookTransport,
    limits,
    configured: new Map([...config.webhooks].map(([app, c]) => [app, c.webhooks])),
    publicOnly: config.webhookPublicOnly,
    onError: onWebhookError,
    warn: (message, fields) => log.warn(fields ?? {}, message),
    observer: metrics?.webhooks,
    hashes: nodeWebhookHashes,
  });
  const hooks = new Map([...config.webhooks].flatMap(([app, c]) => (c.hook ? [[app, c.hook] as const] : [])));
  const screen =
    hooks.size === 0
      ? undefined
      : new PreSendHooks({
          hooks,
          transport: nodeWebhookTransport,
          limits,
          now: Date.now,
          onError: onWebhookError,
          hashes: nodeWebhookHashes,
        });
  const hub = new RelayHub({
    store,
    limits,
    onError,
    defer: setImmediate,
    webhooks,
    screen,
    metrics: metrics?.relay,
  });
  metrics?.watch({ hub, webhooks });
  try {
    await webhooks.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  const profiles = new Profiles(() => store, {
    allowHttp: !config.production,
    onError,
    batchClaimReads: true,
  });
  const auth = new Authenticator(config.apps, undefined, (user) => profiles.fromToken(user), hmacSha256);
  const api = createApi({
    directory: hub,
    auth,
    profiles,
    limits,
    origins: config.origins,
    devMode: !config.production,
    onError,
    log,
    serving: () => closing === undefined,
    widgetScript: bundleWidget,
    chargeInbound: (app, userId, bytes) => hub.budgets.charge(app, userId, bytes),
    // The API asks for a slot only for a held long-poll.
    acquireConnection: (app, userId) => hub.acquireConnection(app, userId, "long_poll"),
    webhooks: webhooks.admin,
    docs: config.docs ? swaggerUiAssets : undefined,
    metrics: metrics?.api,
  });
  const gateway = new NodeWebSocketGateway(hub, auth, config.origins, limits, log, metrics?.relay);
  const answer = getRequestListener(api.fetch);
  // Requests being answered, on any server (its own or a host's): close() lets them finish.
  const inflight = new InflightRequests();
  const requestListener: typeof answer = (req, res) => {
    inflight.track(res);
    // Closing: the answer (most often 503 shutting_down) ends its connection, so the client's
    // retry opens a new one, to a relay that serves, not one about to be cut.
    if (closing !== undefined && "shouldKeepAlive" in res) res.shouldKeepAlive = false;
    return answer(req, res);
  };
  const servers = new Set<Server>();
  let closing: Promise<void> | undefined;
  const attach = (server: Server) => {
    enforceHandshakeTimeout(server, limits.handshakeTimeoutMs);
    // Every request's headers, not only a connection's first: a keep-alive connection that
    // trickles its second request is cut as fast as a new one (Node checks every
    // `connectionsCheckingInterval`, which only `createServer` can set; listen() sets 1 s).
    server.headersTimeout = limits.handshakeTimeoutMs;
    server.on("upgrade", gateway.handleUpgrade);
  };

  return {
    config,
    hub,
    metrics,
    fetch: (request) => api.fetch(request),
    requestListener,
    handleUpgrade: gateway.handleUpgrade,
    attach,
    async listen(port = config.port, host = config.host) {
      const server = createServer({ connectionsCheckingInterval: 1_000 }, requestListener);
      attach(server);
      // Only on the relay's own server: a host's (`attach`) keeps its own refusals.
      answerClientErrors(server);
      // A write timeout: a connection that takes nothing for this long (an answer it never
      // reads) is dropped, and what was queued for it freed. Not set on a host's own server
      // (`attach`): its routes may need longer; the README says what to set there.
      // Per HTTP request, not `server.setTimeout`: that gives every connection a timer object,
      // and an upgraded WebSocket keeps it for its whole life (ws stops the timer; the socket
      // still holds it: ~120 bytes per idle socket). A socket has its heartbeat instead.
      const writeTimeoutMs = idleTimeoutMs(limits);
      server.prependListener("request", (req) => {
        if (req.socket.timeout !== writeTimeoutMs) req.socket.setTimeout(writeTimeoutMs);
      });
      server.requestTimeout = Math.max(30_000, limits.handshakeTimeoutMs);
      servers.add(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      const bound = (server.address() as AddressInfo).port;
      const shownHost = host.includes(":") ? `[${host}]` : host;
      return { server, port: bound, url: `http://${shownHost}:${bound}` };
    },
    close() {
      closing ??= (async () => {
        for (const server of servers) server.close();
        await hub.close();
        await webhooks.close();
        gateway.close();
        // What the rooms committed while closing is answered before the connections go: the
        // rooms have answered every pending send, and long-polls and streams have ended.
        await inflight.drained(SHUTDOWN_DRAIN_MS);
        for (const server of servers) server.closeAllConnections();
        await store.close();
      })();
      return closing;
    },
  };
}
