/**
 * One log line per HTTP request, and its id on the answer (`X-Request-Id`). The line carries
 * what an operator filters on (route pattern, status, duration, app, user, conversation), never
 * the URL's query string, headers or body: tokens travel in those.
 */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { type LogFields, type Logger, requestIdOf } from "../party/core/log.ts";
import { conversationIdSchema } from "../party/core/validation.ts";
import type { ApiEnv } from "./context.ts";

/**
 * The first middleware: takes (or makes) the request id, echoes it, and logs the request when
 * its answer is ready (for SSE, when the stream starts): at info; a 5xx the relay chose at warn;
 * at error with the stack when an unexpected error made it a 500. Without a logger, only the id
 * is kept.
 */
export function requestLog(log: Logger | undefined): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    // Date.now, not performance.now: PartyKit's runtime has no performance.now (and workerd
    // freezes both clocks during a request, so `ms` there is 0 unless the request waited on I/O).
    const started = Date.now();
    const reqId = requestIdOf(c.req.header("x-request-id"));
    const line: LogFields = { reqId };
    c.set("logLine", line);
    // Before the answer exists, so it is made with the header: setting one on a finished answer
    // makes @hono/node-server build a full web Response instead of its light one (+80 µs of CPU
    // per durable send in the bench).
    // (An answer a handler builds itself, the event stream, sets it there.)
    c.header("X-Request-Id", reqId);
    await next();
    if (!log) return;
    const route = routePath(c, -1);
    // A refusal before the route read its id (a bad token, say) still says which conversation.
    if (line.conversationId === undefined && route.includes("/conversations/:id")) {
      const id = conversationIdSchema.safeParse(c.req.param("id"));
      if (id.success) line.conversationId = id.data;
    }
    line.method = c.req.method;
    line.route = route === "/*" ? "(no route)" : route;
    line.status = c.res.status;
    line.ms = Date.now() - started;
    const failure = c.get("failure");
    if (failure !== undefined) log.error({ ...line, err: failure }, "request failed");
    // A 503 the relay chose (shutting down, a store busy, a hook away) is no bug, but unwell.
    else if (line.status >= 500) log.warn(line, "request");
    else log.info(line, "request");
  };
}
