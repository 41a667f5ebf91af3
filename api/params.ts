/**
 * The path and query parameters of the HTTP API as zod schemas: the routes parse with them
 * (through the helpers in context.ts) and the OpenAPI document (api/openapi/) renders them, so
 * what is documented is what is checked. Bodies' schemas live in party/core/validation.ts,
 * shared with the socket frames.
 */
import { z } from "zod";

/** Digits only, at most 15 (every such number is a safe integer). */
const DIGITS = /^\d{1,15}$/;

/** `after`, `before`, `limit`: a non-negative integer written in decimal digits. */
export const intQuerySchema = z.string().regex(DIGITS).meta({ example: "0" });

/** `:seq` of a message route: digits, then a positive integer (messageSeqSchema). */
export const seqParamSchema = z
  .string()
  .regex(DIGITS)
  .meta({ description: "The seq of a message (a positive integer).", example: "1" });

/**
 * `wait`: seconds a long-poll may be held, a decimal number ≥ 0 ("2", "1.5", ".5"; clamped to the
 * relay's longest wait); "" is absent. Decimal only: `Number()` also took "0x10" (16 s) and "1e1".
 */
export const waitQuerySchema = z
  .string()
  .regex(/^(\d{1,9}(\.\d{0,9})?|\.\d{1,9})$/)
  .transform(Number)
  .meta({
    description: "Seconds to hold the request when nothing is new (long-poll), clamped to 30.",
    example: "25",
  });

/** `Last-Event-ID` of an SSE reconnection: the seq of the last entry the client got. */
export const lastEventIdSchema = z.string().regex(DIGITS);
