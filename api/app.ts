/**
 * The HTTP API (Hono, web-standard only): every route of the contract. Runtime adapters mount
 * `api.fetch`; sockets are upgraded by the adapters, not here.
 */
import { Hono } from "hono";
import { ParleyError } from "../party/core/errors.ts";
import { originAllowed } from "../party/host/origins.ts";
import { limitBody } from "./body-limit.ts";
import { ReadSlots } from "./bounded-reads.ts";
import type { ApiDeps, ApiEnv } from "./context.ts";
import { cors } from "./cors.ts";
import { errorResponse } from "./http-errors.ts";
import { requestLog } from "./request-log.ts";
import { changeRoutes } from "./routes/changes.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { logRoutes } from "./routes/log.ts";
import { messageRoutes } from "./routes/messages.ts";
import { countRequests, metricsRoutes } from "./routes/metrics.ts";
import { referenceRoutes } from "./routes/reference.ts";
import { signalRoutes } from "./routes/signals.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { userRoutes } from "./routes/users.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { widgetRoutes } from "./routes/widget.ts";
import { cachedWidgetBundle } from "./widget-bundle.ts";

export type { ApiDeps } from "./context.ts";

export function createApi(deps: ApiDeps): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  const widget = deps.widgetScript ? cachedWidgetBundle(deps.widgetScript) : undefined;
  const reads = new ReadSlots(
    () => deps.limits.maxReadsPerUser,
    () => deps.metrics?.rateLimited("reads"),
  );
  api.use(requestLog(deps.log));
  // Before the middlewares below, so that every answer is logged and counted, their refusals included.
  if (deps.metrics) api.use(countRequests(deps.metrics));
  api.use(async (c, next) => {
    c.set("deps", deps);
    c.set("widget", widget);
    c.set("reads", reads);
    await next();
  });
  api.use(
    cors({
      allowed: (origin, host) => originAllowed(origin, deps.origins, host),
      methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      headers: ["Authorization", "Content-Type", "Last-Event-ID"],
      expose: ["Retry-After", "X-Request-Id"],
      maxAge: 600,
      // The API; the widget bundle (public, any origin) and the dev demo page are outside it.
      refuse: (path) => path.startsWith("/v1/"),
    }),
  );
  api.use(limitBody(deps.limits.maxFrameBytes));
  api.get("/healthz", (c) => {
    if (deps.serving && !deps.serving()) {
      throw new ParleyError("shutting_down", "the relay is shutting down (or has shut down)", 1);
    }
    return c.json({ ok: true });
  });
  api.route("/v1", tokenRoutes);
  api.route("/v1/conversations", conversationRoutes);
  api.route("/v1/conversations", messageRoutes);
  api.route("/v1/conversations", changeRoutes);
  api.route("/v1/conversations", logRoutes);
  api.route("/v1/conversations", signalRoutes);
  api.route("/v1/users", userRoutes);
  api.route("/v1/webhooks", webhookRoutes);
  api.route("/", widgetRoutes);
  api.route("/", referenceRoutes);
  api.route("/", metricsRoutes);
  api.notFound((c) => errorResponse(c, new ParleyError("not_found", "no such route"), deps.onError));
  api.onError((error, c) => errorResponse(c, error, deps.onError));
  return api;
}
