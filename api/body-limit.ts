import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ParleyError } from "../party/core/errors.ts";

/**
 * Refuses bodies over `maxBytes` with 413. A declared Content-Length is checked from the
 * headers alone: touching `c.req.raw.body` would make @hono/node-server build a full undici
 * Request for every send, which costs more than the rest of the route. Chunked bodies (no
 * length) are counted while they stream, so an endless body is cut at the limit.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = () => new ParleyError("too_large", `request body is larger than ${maxBytes} bytes`);
  const streaming = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  return async (c, next) => {
    const declared = c.req.header("content-length");
    if (c.req.header("transfer-encoding") !== undefined) return streaming(c, next);
    if (declared !== undefined && (!/^\d{1,12}$/.test(declared) || Number(declared) > maxBytes))
      throw tooLarge();
    return next();
  };
}
