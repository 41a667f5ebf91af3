/**
 * Input shapes shared by the HTTP API and the socket frames, so both refuse the same things
 * with the same words.
 */
import { z } from "zod";
import { ParleyError } from "./errors.ts";

export const conversationIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "conversation ids are 1-64 characters of A-Z a-z 0-9 _ -");
export const userIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:@|+-]{1,128}$/, "user ids are 1-128 characters of A-Z a-z 0-9 _ . : @ | + -");
export const clientMessageIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "clientMessageId is 1-64 characters of A-Z a-z 0-9 _ -");

const MAX_META_DEPTH = 8;

function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_META_DEPTH || value === null || typeof value !== "object") return depth;
  let max = depth;
  for (const child of Object.values(value)) max = Math.max(max, depthOf(child, depth + 1));
  return max;
}

/** `meta`: a JSON object, nested at most 8 deep (deeper trees cost stack when re-encoded). */
export const metaSchema = z
  .record(z.string(), z.unknown())
  .refine((m) => depthOf(m) <= MAX_META_DEPTH, `meta may nest at most ${MAX_META_DEPTH} levels`);

export const sendInputSchema = z.strictObject({
  clientMessageId: clientMessageIdSchema,
  body: z.string(),
  meta: metaSchema.optional(),
});

export const readInputSchema = z.strictObject({
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

export const clientFrameSchema = z.discriminatedUnion("type", [
  sendInputSchema.extend({ type: z.literal("send") }),
  z.strictObject({ type: z.literal("typing") }),
  readInputSchema.extend({ type: z.literal("read") }),
  z.strictObject({ type: z.literal("ping") }),
]);

export type ClientFrame = z.infer<typeof clientFrameSchema>;

const encoder = new TextEncoder();

/** Refuses a body over the size limit with 413 (the contract counts UTF-8 bytes). */
export function checkBodySize(body: string, maxBytes: number): void {
  // Cheap upper bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (body.length * 3 <= maxBytes) return;
  if (encoder.encode(body).byteLength > maxBytes) {
    throw new ParleyError("too_large", `message body is larger than ${maxBytes} bytes of UTF-8`);
  }
}

/** Turns a zod failure into one readable sentence. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Parses with a schema or throws a 400 ParleyError that says what was wrong. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new ParleyError("bad_request", `invalid ${what}: ${describeIssues(result.error)}`);
  return result.data;
}
