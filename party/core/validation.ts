/**
 * Input shapes shared by the HTTP API and the socket frames, so both refuse the same things
 * with the same words.
 */
import { z } from "zod";
import type { ClientFrame } from "../../protocol/index.ts";
import { ParleyError } from "./errors.ts";

/** What a conversation id may be; `conversationIdSchema` says it to clients. */
export const CONVERSATION_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** What a user id may be; `userIdSchema` says it to clients. */
export const USER_ID = /^[A-Za-z0-9_.:@|+-]{1,128}$/;
export const conversationIdSchema = z
  .string()
  .regex(CONVERSATION_ID, "conversation ids are 1-64 characters of A-Z a-z 0-9 _ -");
export const userIdSchema = z
  .string()
  .regex(USER_ID, "user ids are 1-128 characters of A-Z a-z 0-9 _ . : @ | + -");
export const clientMessageIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "clientMessageId is 1-64 characters of A-Z a-z 0-9 _ -");

const MAX_META_DEPTH = 8;

/**
 * Why a message body cannot be stored verbatim, or undefined when it can. SQLite keeps UTF-8: a lone
 * surrogate would come back as U+FFFD and a NUL would cut the text, so the stored message would
 * differ from the one acknowledged (and a retry would then be a 409). Refused up front instead.
 */
export function unstorableText(text: string): string | undefined {
  if (!text.isWellFormed()) return "must be valid Unicode (it has a lone surrogate)";
  if (text.includes("\u0000")) return "may not contain NUL characters";
  return undefined;
}

/**
 * Why a meta tree is refused, or undefined: too deep, or a `__proto__` key. (Its strings need
 * no check: meta is stored as JSON text, where NUL and lone surrogates are escaped.)
 */
function metaProblem(value: unknown, depth = 0): string | undefined {
  if (depth > MAX_META_DEPTH) return `meta may nest at most ${MAX_META_DEPTH} levels`;
  if (value === null || typeof value !== "object") return undefined;
  for (const [key, child] of Object.entries(value)) {
    if (key === "__proto__") return "meta may not have a __proto__ key";
    const problem = metaProblem(child, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

const isJsonObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * `meta`: a JSON object kept exactly as sent (zod's record would rebuild it and silently drop
 * a `__proto__` key), nested at most 8 deep.
 */
export const metaSchema = z
  .custom<Record<string, unknown>>(isJsonObject, "meta must be a JSON object")
  .superRefine((meta, ctx) => {
    const problem = metaProblem(meta);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** A string schema's check that its text is kept verbatim (see unstorableText). */
export function refuseUnstorable(text: string, ctx: z.RefinementCtx): void {
  const problem = unstorableText(text);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
}

const storableText = z.string().superRefine(refuseUnstorable);

const seqSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** A message's seq (entries start at 1). */
export const messageSeqSchema = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const sendInputSchema = z.strictObject({
  clientMessageId: clientMessageIdSchema,
  body: storableText,
  meta: metaSchema.optional(),
  replyTo: messageSeqSchema.optional(),
});

export const readInputSchema = z.strictObject({ seq: seqSchema });

const encoderForKeys = new TextEncoder();

/**
 * A reaction key: 1–32 bytes of UTF-8 (an emoji or a short name), no control characters, no
 * lone surrogates (it is stored as text and compared exactly).
 */
export const reactionKeySchema = z.string().superRefine((key, ctx) => {
  const bytes = encoderForKeys.encode(key).byteLength;
  if (bytes < 1 || bytes > 32)
    ctx.addIssue({ code: "custom", message: "a reaction key is 1-32 bytes of UTF-8" });
  else if (!key.isWellFormed() || /\p{Cc}/u.test(key))
    ctx.addIssue({ code: "custom", message: "a reaction key may not contain control characters" });
});

/** An edit sets a body, a meta (null removes it), or both; one with neither is malformed. */
const editSetsSomething = [
  (e: { body?: unknown; meta?: unknown }) => e.body !== undefined || e.meta !== undefined,
  "an edit needs a body or a meta",
] as const;

/** What an edit sets: a body, a meta (null removes it), or both; at least one. */
export const editInputSchema = z
  .strictObject({ body: storableText.optional(), meta: metaSchema.nullable().optional() })
  .refine(...editSetsSomething);

/** A change frame's optional correlation id, echoed in its ack or error. */
const refSchema = z.string().min(1).max(64).optional();

export const clientFrameSchema = z.discriminatedUnion("type", [
  sendInputSchema.extend({ type: z.literal("send") }),
  z
    .strictObject({
      type: z.literal("edit"),
      seq: messageSeqSchema,
      ref: refSchema,
      body: storableText.optional(),
      meta: metaSchema.nullable().optional(),
    })
    // As over HTTP: an edit with nothing to set is malformed (here `bad_frame`, with its ref).
    .refine(...editSetsSomething),
  z.strictObject({ type: z.literal("delete"), seq: messageSeqSchema, ref: refSchema }),
  z.strictObject({ type: z.literal("react"), seq: messageSeqSchema, key: reactionKeySchema, ref: refSchema }),
  z.strictObject({
    type: z.literal("unreact"),
    seq: messageSeqSchema,
    key: reactionKeySchema,
    ref: refSchema,
  }),
  z.strictObject({ type: z.literal("typing") }),
  readInputSchema.extend({ type: z.literal("read") }),
  z.strictObject({ type: z.literal("ping") }),
]);

export type { ClientFrame };

/**
 * The schema accepts exactly the protocol's client frames: a frame added to `protocol/` without
 * a schema here (or the other way round) fails to compile.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesProtocol: Same<z.infer<typeof clientFrameSchema>, ClientFrame> = true;
void schemaMatchesProtocol;

const encoder = new TextEncoder();

/** Refuses a body over the size limit with 413 (the contract counts UTF-8 bytes). */
export function checkBodySize(body: string, maxBytes: number): void {
  // Cheap upper bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (body.length * 3 <= maxBytes) return;
  if (encoder.encode(body).byteLength > maxBytes) {
    throw new ParleyError("too_large", `message body is larger than ${maxBytes} bytes of UTF-8`);
  }
}

/**
 * Refuses a `meta` over the size limit with 413 (bytes of its JSON text). Checked before the
 * key is compared with a stored message: comparing a huge meta on every re-send was the cost.
 */
export function checkMetaSize(meta: Record<string, unknown> | undefined, maxBytes: number): void {
  if (meta === undefined) return;
  const text = JSON.stringify(meta);
  if (text.length > maxBytes || encoder.encode(text).byteLength > maxBytes) {
    throw new ParleyError("too_large", `meta is larger than ${maxBytes} bytes of JSON`);
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
