/**
 * `GET /metrics`: the host's metrics in Prometheus text format, for a server key of any
 * configured app (or anyone, with `PARLEY_METRICS_PUBLIC=1`). Only hosts that keep metrics
 * serve it (Node and Deno); elsewhere, and with `PARLEY_METRICS=0`, it is 404.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { ParleyError } from "../../party/core/errors.ts";
import { type ApiEnv, type ApiMetrics, serverOf } from "../context.ts";

/** Methods counted by name; any other is counted as `other` (a label never takes a client's text). */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * The pattern of the route that answered (or would have, when a middleware refused first, say
 * 413): the last matched route that is not a middleware. `unmatched` when there is none (404,
 * CORS preflights), so a raw path never becomes a label.
 */
function routeOf(c: Parameters<MiddlewareHandler<ApiEnv>>[0]): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    if (route && route.method !== "ALL") return route.path;
  }
  return "unmatched";
}

/** Counts every answered request by method, route pattern and status. */
export function countRequests(metrics: ApiMetrics): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    await next();
    const method = METHODS.has(c.req.method) ? c.req.method : "other";
    metrics.request(method, routeOf(c), c.res.status);
  };
}

export const metricsRoutes = new Hono<ApiEnv>().get("/metrics", async (c) => {
  const metrics = c.get("deps").metrics;
  if (!metrics)
    throw new ParleyError(
      "not_found",
      "no metrics here: GET /metrics is served by the Node and Deno relays (not on Workers or PartyKit), unless PARLEY_METRICS=0",
    );
  if (!metrics.public) await serverOf(c);
  const { contentType, text } = await metrics.scrape();
  c.header("Content-Type", contentType);
  c.header("Cache-Control", "no-store");
  return c.body(text);
});
