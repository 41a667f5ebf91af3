/**
 * Building blocks of the document's operations: answers (successes and the contract's errors),
 * who may call (security requirements) and path parameters, each rendered from zod schemas.
 */
import { z } from "zod";
import type { oas31, ZodOpenApiResponseObject, ZodOpenApiResponsesObject } from "zod-openapi";
import { conversationIdSchema, reactionKeySchema, userIdSchema } from "../../party/core/validation.ts";
import { seqParamSchema } from "../params.ts";
import { errorBodySchema } from "./shapes.ts";

/** What each error status means, for its description (CONTRACT.md "Status codes"). */
const ERROR_MEANING: Record<number, string> = {
  400: "Bad input: a parameter or the body is malformed (`bad_request`).",
  401: "No credential, or a bad or expired one (`unauthorized`).",
  403: "Not allowed: not a member, the wrong kind of credential, or a browser origin that is not allowed (`forbidden`).",
  404: "No such conversation, message, endpoint or route (`not_found`).",
  409: "Conflict: an existing id, a clientMessageId reused with other content, a deleted message (`conflict`).",
  413: "The body (or a message body or meta inside it) is too large (`too_large`).",
  415: "The body is not JSON (`unsupported_media_type`).",
  422: "The app's pre-send hook refused the message; nothing was stored (`rejected`).",
  429: "Rate limited (sends, bytes, open connections or reads on their way); retry after `Retry-After` seconds (`rate_limited`).",
  500: "An internal error; the relay logged it (`internal`).",
  503: "The store is unavailable, the relay is shutting down, or the pre-send hook did not answer; nothing was stored, safe to retry with the same key (`store_unavailable`, `shutting_down`, `hook_unavailable`).",
};

/** Statuses that carry `Retry-After` (seconds). */
const RETRY_AFTER = new Set([429, 503]);

/** Every request may be refused for its size (Content-Length over the limit) or fail inside. */
const ALWAYS = [413, 500] as const;

/** The contract's error answer of one status: `{ error: { code, message } }`. */
function errorResponse(status: number): ZodOpenApiResponseObject {
  const response: ZodOpenApiResponseObject = {
    description: ERROR_MEANING[status] ?? `Error ${status}.`,
    content: { "application/json": { schema: errorBodySchema(status) } },
  };
  if (RETRY_AFTER.has(status)) {
    response.headers = z.object({
      "Retry-After": z.string().regex(/^\d+$/).meta({ description: "Seconds to wait before retrying." }),
    });
  }
  return response;
}

/**
 * An operation's answers: its successes, then the errors it can give (plus 413 and 500, which
 * any request can meet), each with the error codes of its status.
 */
export function answers(
  successes: ZodOpenApiResponsesObject,
  errors: readonly number[],
): ZodOpenApiResponsesObject {
  const all: ZodOpenApiResponsesObject = { ...successes };
  for (const status of [...new Set([...errors, ...ALWAYS])].sort((a, b) => a - b)) {
    all[`${status}` as `4${string}`] = errorResponse(status);
  }
  return all;
}

/** A JSON success answer. */
export function json(description: string, schema: z.ZodType): ZodOpenApiResponseObject {
  return { description, content: { "application/json": { schema } } };
}

/** A success without a body. */
export const noContent = (description: string): ZodOpenApiResponseObject => ({ description });

/** The document's security schemes (document.ts declares them). */
export type SchemeName = "userToken" | "tokenQuery" | "serverKey";

/** Any one of these credentials is enough. */
const anyOf = (...names: SchemeName[]): oas31.SecurityRequirementObject[] =>
  names.map((name) => ({ [name]: [] }));

/** Security requirements: who may call an operation. */
export const security = {
  /** A user token in the Authorization header. */
  user: anyOf("userToken"),
  /** A user token, in the header or as `?token=` (where browsers cannot set headers). */
  userOrQuery: anyOf("userToken", "tokenQuery"),
  server: anyOf("serverKey"),
  userOrServer: anyOf("userToken", "serverKey"),
  userQueryOrServer: anyOf("userToken", "tokenQuery", "serverKey"),
  /** No credential. */
  none: anyOf(),
};

/** The errors of a route that reaches a conversation: credential, membership, its existence, the store. */
export const ROOM_ERRORS = [400, 401, 403, 404, 503] as const;
/** The errors of a route that reads a JSON body. */
export const BODY_ERRORS = [400, 413, 415] as const;

export const conversationPath = z.object({
  id: conversationIdSchema.meta({ description: "The conversation's id.", example: "general" }),
});
export const messagePath = conversationPath.extend({ seq: seqParamSchema });
export const memberPath = conversationPath.extend({
  userId: userIdSchema.meta({ description: "The member's user id.", example: "alice" }),
});
export const reactionPath = messagePath.extend({
  key: reactionKeySchema.meta({
    description: "The reaction key: 1-32 bytes of UTF-8 (an emoji or a short name), URL-encoded.",
    example: "👍",
    // Its refinement counts UTF-8 bytes, which JSON Schema cannot say; maxLength counts
    // characters, a looser bound.
    override: { minLength: 1, maxLength: 32 },
  }),
});
