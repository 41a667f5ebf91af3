/**
 * The document's conversation routes (`/v1/conversations…`): conversations and members,
 * messages and their changes, the log, the event stream, typing, reads and presence. Each
 * request schema is the one its route parses with.
 */
import { z } from "zod";
import type { ZodOpenApiPathsObject } from "zod-openapi";
import {
  editInputSchema,
  readInputSchema,
  sendInputSchema,
  userIdSchema,
} from "../../party/core/validation.ts";
import { intQuerySchema, lastEventIdSchema, waitQuerySchema } from "../params.ts";
import { createConversationSchema } from "../routes/conversations.ts";
import {
  answers,
  BODY_ERRORS,
  conversationPath,
  json,
  memberPath,
  messagePath,
  noContent,
  ROOM_ERRORS,
  reactionPath,
  security,
} from "./responses.ts";
import {
  conversationViewSchema,
  createdConversationSchema,
  historyPageSchema,
  logPageSchema,
  messageSchema,
  repliesPageSchema,
  threadPageSchema,
  usersSchema,
} from "./shapes.ts";

const jsonBody = (schema: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema } },
});

const messageAnswer = z.object({ message: messageSchema });
const after = intQuerySchema.optional().meta({ description: "Only entries with a seq above this one." });
const limit = (max: number, byDefault: number) =>
  intQuerySchema
    .optional()
    .meta({ description: `How many at most (default ${byDefault}, clamped to 1-${max}).` });
const wait = waitQuerySchema.optional();

/** `POST …/messages`: a user sends as themself; the server key names `senderId`. */
const sendBodySchema = sendInputSchema
  .extend({
    senderId: userIdSchema.optional().meta({
      description:
        "With the server key: the member to send as (required). With a user token: omitted, or the user's own id.",
    }),
  })
  .meta({ id: "SendMessage" });

const conversations: ZodOpenApiPathsObject = {
  "/v1/conversations": {
    post: {
      operationId: "createConversation",
      summary: "Create a conversation",
      tags: ["conversations"],
      security: security.server,
      requestBody: jsonBody(createConversationSchema),
      responses: answers({ 201: json("Created.", z.object({ conversation: createdConversationSchema })) }, [
        ...BODY_ERRORS,
        401,
        403,
        409,
        503,
      ]),
    },
    get: {
      operationId: "listConversations",
      summary: "The user's thread list, newest activity first",
      tags: ["conversations"],
      security: security.user,
      requestParams: {
        query: z.object({
          limit: limit(200, 50),
          cursor: z.string().optional().meta({ description: "`nextCursor` of the previous page." }),
        }),
      },
      responses: answers(
        { 200: json("A page of the thread list.", threadPageSchema) },
        [400, 401, 403, 429, 503],
      ),
    },
  },
  "/v1/conversations/{id}": {
    get: {
      operationId: "getConversation",
      summary: "A conversation, its members' read positions and their profiles",
      tags: ["conversations"],
      security: security.userOrServer,
      requestParams: { path: conversationPath },
      responses: answers(
        {
          200: json(
            "The conversation (`users`: the members' profiles).",
            z.object({ conversation: conversationViewSchema, users: usersSchema.optional() }),
          ),
        },
        [...ROOM_ERRORS],
      ),
    },
  },
  "/v1/conversations/{id}/members/{userId}": {
    put: {
      operationId: "addMember",
      summary: "Add a member (idempotent)",
      tags: ["conversations"],
      security: security.server,
      requestParams: { path: memberPath },
      responses: answers({ 204: noContent("A member (now or already).") }, [...ROOM_ERRORS]),
    },
    delete: {
      operationId: "removeMember",
      summary: "Remove a member; their open sockets close with 4003",
      tags: ["conversations"],
      security: security.server,
      requestParams: { path: memberPath },
      responses: answers({ 204: noContent("Not a member (now or already).") }, [...ROOM_ERRORS]),
    },
  },
};

const messages: ZodOpenApiPathsObject = {
  "/v1/conversations/{id}/messages": {
    post: {
      operationId: "sendMessage",
      summary: "Send a message (answered once it is durable)",
      tags: ["messages"],
      security: security.userOrServer,
      requestParams: { path: conversationPath },
      requestBody: jsonBody(sendBodySchema),
      responses: answers(
        {
          201: json("Stored.", messageAnswer),
          200: json("The same clientMessageId again: the message stored the first time.", messageAnswer),
        },
        [...ROOM_ERRORS, ...BODY_ERRORS, 409, 422, 429],
      ),
    },
    get: {
      operationId: "history",
      summary: "Messages in their latest state, ascending; long-poll with `wait`",
      tags: ["messages"],
      security: security.userOrQuery,
      requestParams: {
        path: conversationPath,
        query: z.object({
          after,
          before: intQuerySchema.optional().meta({ description: "Only messages below this seq." }),
          limit: limit(200, 50),
          wait,
        }),
      },
      responses: answers({ 200: json("A page of messages.", historyPageSchema) }, [...ROOM_ERRORS, 429]),
    },
  },
  "/v1/conversations/{id}/messages/{seq}": {
    patch: {
      operationId: "editMessage",
      summary: "Edit a message (its sender, or the server key)",
      tags: ["messages"],
      security: security.userOrServer,
      requestParams: { path: messagePath },
      requestBody: jsonBody(editInputSchema),
      responses: answers({ 200: json("The message once the edit is durable.", messageAnswer) }, [
        ...ROOM_ERRORS,
        ...BODY_ERRORS,
        409,
        422,
        429,
      ]),
    },
    delete: {
      operationId: "deleteMessage",
      summary: "Delete a message (its sender, or the server key): it becomes a tombstone",
      tags: ["messages"],
      security: security.userOrServer,
      requestParams: { path: messagePath },
      responses: answers({ 200: json("The tombstone.", messageAnswer) }, [...ROOM_ERRORS, 429]),
    },
  },
  "/v1/conversations/{id}/messages/{seq}/reactions/{key}": {
    put: {
      operationId: "react",
      summary: "Add the user's reaction",
      tags: ["messages"],
      security: security.user,
      requestParams: { path: reactionPath },
      responses: answers({ 200: json("The message.", messageAnswer) }, [...ROOM_ERRORS, 409, 429]),
    },
    delete: {
      operationId: "unreact",
      summary: "Remove the user's reaction",
      tags: ["messages"],
      security: security.user,
      requestParams: { path: reactionPath },
      responses: answers({ 200: json("The message.", messageAnswer) }, [...ROOM_ERRORS, 409, 429]),
    },
  },
  "/v1/conversations/{id}/messages/{seq}/replies": {
    get: {
      operationId: "replies",
      summary: "The replies to one message, ascending",
      tags: ["messages"],
      security: security.user,
      requestParams: { path: messagePath, query: z.object({ after, limit: limit(200, 50) }) },
      responses: answers({ 200: json("A page of replies.", repliesPageSchema) }, [...ROOM_ERRORS, 429]),
    },
  },
  "/v1/conversations/{id}/log": {
    get: {
      operationId: "log",
      summary: "The conversation's log (messages and changes) above `after`; long-poll with `wait`",
      tags: ["messages"],
      security: security.userQueryOrServer,
      requestParams: {
        path: conversationPath,
        query: z.object({ after, limit: limit(500, 100), wait }),
      },
      responses: answers({ 200: json("A page of the log.", logPageSchema) }, [...ROOM_ERRORS, 429]),
    },
  },
  "/v1/conversations/{id}/events": {
    get: {
      operationId: "events",
      summary: "Server-Sent Events: replay after `after` (or `Last-Event-ID`), `synced`, then live frames",
      tags: ["messages"],
      security: security.userOrQuery,
      requestParams: {
        path: conversationPath,
        query: z.object({
          after,
          _pk: z
            .string()
            .optional()
            .meta({ description: "One client instance: a newer stream with the same one replaces this." }),
        }),
        header: z.object({ "Last-Event-ID": lastEventIdSchema.optional() }),
      },
      responses: answers(
        {
          200: {
            description:
              "An event stream: each `data:` is a server frame (JSON); messages and changes carry `id: <seq>`.",
            content: { "text/event-stream": { schema: z.string() } },
          },
        },
        [...ROOM_ERRORS, 429],
      ),
    },
  },
};

const signals: ZodOpenApiPathsObject = {
  "/v1/conversations/{id}/typing": {
    post: {
      operationId: "typing",
      summary: "The user is typing: members see a `typing` frame",
      tags: ["signals"],
      security: security.user,
      requestParams: { path: conversationPath },
      responses: answers({ 204: noContent("Told.") }, [...ROOM_ERRORS, 429]),
    },
  },
  "/v1/conversations/{id}/read": {
    post: {
      operationId: "markRead",
      summary: "Move the user's read position (forward only, clamped to lastSeq)",
      tags: ["signals"],
      security: security.user,
      requestParams: { path: conversationPath },
      requestBody: jsonBody(readInputSchema),
      responses: answers({ 204: noContent("Recorded.") }, [...ROOM_ERRORS, ...BODY_ERRORS, 429]),
    },
  },
  "/v1/conversations/{id}/presence": {
    get: {
      operationId: "presence",
      summary: "Members online in the conversation",
      tags: ["signals"],
      security: security.userOrQuery,
      requestParams: { path: conversationPath },
      responses: answers({ 200: json("Who is online.", z.object({ online: z.array(z.string()) })) }, [
        ...ROOM_ERRORS,
      ]),
    },
  },
};

/** Every `/v1/conversations…` operation. */
export const conversationPaths: ZodOpenApiPathsObject = { ...conversations, ...messages, ...signals };
