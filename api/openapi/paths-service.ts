/**
 * The document's routes outside conversations: health, tokens, webhooks, the widget, metrics
 * and the reference itself (`/v1/openapi.json`, `/docs`). Each request schema is the one its route
 * parses with.
 */
import { z } from "zod";
import type { ZodOpenApiPathsObject } from "zod-openapi";
import { userIdSchema } from "../../party/core/validation.ts";
import { profilePatchSchema } from "../../party/host/profiles.ts";
import { mintTokenSchema } from "../routes/tokens.ts";
import { endpointIdSchema, newEndpointSchema } from "../routes/webhooks.ts";
import { answers, BODY_ERRORS, json, noContent, security } from "./responses.ts";
import { newWebhookEndpointSchema, profileSchema, webhookEndpointSchema } from "./shapes.ts";

const tokenAnswer = z.object({ token: z.string().meta({ description: "A user token (JWT)." }) });
const endpointPath = z.object({
  id: endpointIdSchema.meta({ description: "The endpoint's id.", example: "wh_1" }),
});
const webhookAnswer = z.object({ webhook: webhookEndpointSchema });
const profileAnswer = z.object({ profile: profileSchema });
const userPath = z.object({ userId: userIdSchema.meta({ description: "The user's id.", example: "u_42" }) });
const html = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });

const service: ZodOpenApiPathsObject = {
  "/healthz": {
    get: {
      operationId: "health",
      summary: "200 once the store is open; 503 while the relay shuts down",
      tags: ["operating"],
      security: security.none,
      responses: answers({ 200: json("Serving.", z.object({ ok: z.literal(true) })) }, [503]),
    },
  },
  "/v1/tokens": {
    post: {
      operationId: "mintToken",
      summary: "Mint a user token for the server key's app",
      tags: ["tokens"],
      security: security.server,
      requestBody: { required: true, content: { "application/json": { schema: mintTokenSchema } } },
      responses: answers({ 201: json("A token.", tokenAnswer) }, [...BODY_ERRORS, 401, 403, 404]),
    },
  },
  "/v1/dev/token": {
    get: {
      operationId: "devToken",
      summary: "Dev mode only: a 24-hour token for any user of the default app, on localhost only",
      tags: ["tokens"],
      security: security.none,
      requestParams: {
        query: z.object({
          user: userIdSchema.meta({ description: "The user id (`sub`)." }),
          name: z.string().optional().meta({ description: "The display name (`name` claim)." }),
          picture: z.string().optional().meta({ description: "A picture URL (`picture` claim)." }),
        }),
      },
      responses: answers({ 200: json("A token.", tokenAnswer) }, [400, 403, 404]),
    },
  },
  "/v1/users/{userId}/profile": {
    put: {
      operationId: "setProfile",
      summary: "Set a user's display name and picture (a field left out is kept, null clears it)",
      description:
        "`name`: 1-64 characters, no control characters. `picture`: an https URL (http too on a dev relay) of at most 2048 bytes. Also set by the `name` / `picture` claims of the user's tokens.",
      tags: ["users"],
      security: security.server,
      requestParams: { path: userPath },
      requestBody: {
        required: true,
        content: { "application/json": { schema: profilePatchSchema(true) } },
      },
      responses: answers({ 200: json("The profile as stored now.", profileAnswer) }, [
        ...BODY_ERRORS,
        401,
        403,
        503,
      ]),
    },
    get: {
      operationId: "getProfile",
      summary: "A user's profile (the server key: anyone of the app; a user token: its own)",
      tags: ["users"],
      security: security.userOrServer,
      requestParams: { path: userPath },
      responses: answers(
        { 200: json("The profile (null fields: not set).", profileAnswer) },
        [400, 401, 403, 503],
      ),
    },
  },
  "/v1/webhooks": {
    post: {
      operationId: "createWebhook",
      summary: "Register a webhook endpoint (its secret is shown this once)",
      tags: ["webhooks"],
      security: security.server,
      requestBody: { required: true, content: { "application/json": { schema: newEndpointSchema } } },
      responses: answers({ 201: json("Registered.", z.object({ webhook: newWebhookEndpointSchema })) }, [
        ...BODY_ERRORS,
        401,
        403,
        404,
        409,
        503,
      ]),
    },
    get: {
      operationId: "listWebhooks",
      summary: "The app's webhook endpoints",
      tags: ["webhooks"],
      security: security.server,
      responses: answers(
        { 200: json("Endpoints.", z.object({ webhooks: z.array(webhookEndpointSchema) })) },
        [401, 403, 404, 503],
      ),
    },
  },
  "/v1/webhooks/{id}": {
    delete: {
      operationId: "deleteWebhook",
      summary: "Remove an endpoint (not one from the relay's configuration: 409)",
      tags: ["webhooks"],
      security: security.server,
      requestParams: { path: endpointPath },
      responses: answers({ 204: noContent("Removed.") }, [400, 401, 403, 404, 409, 503]),
    },
  },
  "/v1/webhooks/{id}/resume": {
    post: {
      operationId: "resumeWebhook",
      summary: "Resume a paused (failing) endpoint from where it stopped",
      tags: ["webhooks"],
      security: security.server,
      requestParams: { path: endpointPath },
      responses: answers({ 200: json("The endpoint.", webhookAnswer) }, [400, 401, 403, 404, 503]),
    },
  },
  "/widget.js": {
    get: {
      operationId: "widgetScript",
      summary:
        "The embeddable widget `<parley-chat>` with the SDK, one minified script (any origin may load it)",
      tags: ["widget"],
      security: security.none,
      requestParams: { header: z.object({ "If-None-Match": z.string().optional() }) },
      responses: answers(
        {
          200: {
            description: "The script (gzipped when asked).",
            content: { "text/javascript": { schema: z.string() } },
          },
          304: noContent("Not modified (the ETag matched)."),
        },
        [404],
      ),
    },
  },
  "/demo": {
    get: {
      operationId: "demo",
      summary: "Dev mode only: the widget with two users side by side (`?user=` for one)",
      tags: ["widget"],
      security: security.none,
      requestParams: {
        query: z.object({ user: z.string().optional(), conversation: z.string().optional() }),
      },
      responses: answers({ 200: html("The demo page.") }, [404, 503]),
    },
  },
  "/v1/openapi.json": {
    get: {
      operationId: "openapi",
      summary: "This document",
      tags: ["operating"],
      security: security.none,
      responses: answers(
        {
          200: json(
            "OpenAPI 3.1.",
            z.record(z.string(), z.unknown()).meta({ description: "This document." }),
          ),
        },
        [403],
      ),
    },
  },
  "/metrics": {
    get: {
      operationId: "metrics",
      summary:
        "The relay's metrics in Prometheus text format (Node and Deno; 404 on the edge and with PARLEY_METRICS=0)",
      description:
        "Any configured app's server key may scrape (the metrics are the whole relay's, not one app's); with `PARLEY_METRICS_PUBLIC=1` no credential is needed. The README lists every metric.",
      tags: ["operating"],
      security: security.server,
      responses: answers(
        {
          200: {
            description: "The exposition (text format 0.0.4).",
            content: { "text/plain": { schema: z.string() } },
          },
        },
        [401, 403, 404],
      ),
    },
  },
  "/docs": {
    get: {
      operationId: "docs",
      summary:
        "This document rendered (Node and Deno: dev mode, or PARLEY_DOCS=1; else 404, and always 404 on the edge)",
      tags: ["operating"],
      security: security.none,
      responses: answers({ 200: html("The API reference page.") }, [404]),
    },
  },
  "/docs/assets/{file}": {
    get: {
      operationId: "docsAsset",
      summary: "The reference page's script and styles, served by the relay (no CDN)",
      tags: ["operating"],
      security: security.none,
      requestParams: { path: z.object({ file: z.string() }) },
      responses: answers(
        {
          200: {
            description: "The file.",
            content: { "text/javascript": { schema: z.string() }, "text/css": { schema: z.string() } },
          },
        },
        [404],
      ),
    },
  },
};

/** Every operation outside `/v1/conversations`. */
export const servicePaths: ZodOpenApiPathsObject = service;
