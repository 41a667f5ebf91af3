/**
 * CORS for the API. Hono's `cors()` does the same job, but on @hono/node-server it cost a
 * third of a send's time (measured with `npm run bench`, durable sends): it touches `c.res`
 * before the handler, which builds a Response early, and appends `Vary` after it, which makes
 * the finished response be rebuilt as a full undici Response. Here the headers go into the
 * context before the handler runs, so `c.json()` builds one light Response that already has them.
 */
import type { MiddlewareHandler } from "hono";
import { ParleyError } from "../party/core/errors.ts";
import type { LogFields } from "../party/core/log.ts";

export interface CorsOptions {
  /** True for a browser origin that may call the API (`host`: the request's Host header). */
  allowed(origin: string, host: string | undefined): boolean;
  methods: readonly string[];
  /** Request headers a browser may send. */
  headers: readonly string[];
  /** Response headers a browser script may read. */
  expose: readonly string[];
  /** How long (seconds) a browser may cache a preflight answer. */
  maxAge: number;
  /**
   * Paths where a request from a browser origin that is not allowed is refused (403), not only
   * answered without CORS headers. Without CORS headers a browser hides the answer from the
   * page, but the request has still been served: a send stored, an event stream opened.
   */
  refuse(path: string): boolean;
}

export function cors(options: CorsOptions): MiddlewareHandler {
  const methods = options.methods.join(",");
  const headers = options.headers.join(",");
  const expose = options.expose.join(",");
  const maxAge = String(options.maxAge);
  return async (c, next) => {
    const origin = c.req.header("origin");
    const allowOrigin = origin && options.allowed(origin, c.req.header("host")) ? origin : null;
    if (c.req.method === "OPTIONS") {
      const preflight = new Headers({ Vary: "Origin, Access-Control-Request-Headers" });
      if (allowOrigin) {
        preflight.set("Access-Control-Allow-Origin", allowOrigin);
        preflight.set("Access-Control-Allow-Methods", methods);
        preflight.set("Access-Control-Allow-Headers", headers);
        preflight.set("Access-Control-Max-Age", maxAge);
      }
      return new Response(null, { status: 204, headers: preflight });
    }
    if (origin && !allowOrigin && options.refuse(c.req.path)) {
      // The page cannot read this answer (no CORS headers for an origin not allowed), so the
      // relay's own log line names the origin for whoever sets PARLEY_ALLOWED_ORIGINS.
      const line = c.get("logLine") as LogFields | undefined;
      if (line) line.origin = origin;
      throw new ParleyError(
        "forbidden",
        `requests from the origin ${origin} are not allowed (PARLEY_ALLOWED_ORIGINS)`,
      );
    }
    // The answer depends on Origin, allowed or not, so caches must key on it.
    c.header("Vary", "Origin", { append: true });
    if (allowOrigin) {
      c.header("Access-Control-Allow-Origin", allowOrigin);
      c.header("Access-Control-Expose-Headers", expose);
    }
    await next();
    // A handler that built its own Response (an event stream, say) did not take the headers
    // prepared above; one that set its own Allow-Origin (the public widget bundle) keeps it.
    if (allowOrigin && !c.res.headers.has("Access-Control-Allow-Origin")) {
      const own = new Response(c.res.body, c.res);
      own.headers.set("Access-Control-Allow-Origin", allowOrigin);
      own.headers.set("Access-Control-Expose-Headers", expose);
      own.headers.append("Vary", "Origin");
      c.res = own;
    }
  };
}
