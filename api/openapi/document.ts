/**
 * The OpenAPI 3.1 document of the HTTP API (`GET /v1/openapi.json`), rendered from the zod
 * schemas the routes validate with (party/core/validation.ts, api/params.ts, the routes' own
 * body schemas) and from schemas of the answers that are checked against the protocol's types
 * at compile time (shapes.ts). test/contract/openapi.test.ts fails when the Hono app has a
 * route this document does not describe, or the other way round.
 *
 * Why zod-openapi (and not `@hono/zod-openapi` or `hono-openapi`): it renders plain zod 4
 * schemas through zod's own JSON Schema output, with no wrapper around the routes. The two Hono
 * libraries want each route rewritten as `createRoute()`/`describeRoute()` with their
 * validator middleware, which would replace the relay's validation order (credential, then
 * membership, then the body: a non-member must learn nothing from a 400) and its one error
 * vocabulary; zod-openapi only reads the schemas the routes already use. It has no dependency
 * of its own beyond zod.
 */
import { createDocument, type oas31 } from "zod-openapi";
import { metaSchema } from "../../party/core/validation.ts";
import { conversationPaths } from "./paths-conversations.ts";
import { servicePaths } from "./paths-service.ts";
import type { SchemeName } from "./responses.ts";
import { errorCodeSchema } from "./shapes.ts";

export type OpenApiDocument = oas31.OpenAPIObject;

/** What varies between relays: dev mode adds its routes. */
export interface DocumentOptions {
  /** Dev mode: `/v1/dev/token` and `/demo` exist. */
  devMode: boolean;
  /** The relay's version, shown as the document's. */
  version?: string;
}

const DEV_ONLY = new Set(["/v1/dev/token", "/demo"]);

const DESCRIPTION = `Parley's HTTP API (CONTRACT.md). Every error is \`{ "error": { "code", "message" } }\`
with a snake_case code (see the ErrorCode schema); 429 and 503 carry \`Retry-After\`.
Sockets (\`/parties/conversation/{id}\`, \`/parties/inbox/{userId}\`) are upgrades, not described here.`;

/** Builds the document (a few milliseconds: the API builds it once, on first request). */
export function buildOpenApiDocument(options: DocumentOptions): OpenApiDocument {
  const paths = Object.fromEntries(
    Object.entries({ ...servicePaths, ...conversationPaths }).filter(
      ([path]) => options.devMode || !DEV_ONLY.has(path),
    ),
  );
  return createDocument(
    {
      openapi: "3.1.0",
      info: { title: "Parley", version: options.version ?? "1.1", description: DESCRIPTION },
      tags: [
        { name: "conversations" },
        { name: "messages" },
        { name: "signals" },
        { name: "tokens" },
        { name: "users" },
        { name: "webhooks" },
        { name: "widget" },
        { name: "operating" },
      ],
      paths,
      components: {
        schemas: { ErrorCode: errorCodeSchema },
        securitySchemes: {
          userToken: {
            type: "http",
            scheme: "bearer",
            bearerFormat: "JWT",
            description:
              "A user token: an HS256 JWT your back end signs (`sub`, `exp`; optional `name`, `picture`, `app`).",
          },
          tokenQuery: {
            type: "apiKey",
            in: "query",
            name: "token",
            description:
              "The same user token as `?token=`, where browsers cannot set headers (SSE, long-polls).",
          },
          serverKey: {
            type: "http",
            scheme: "bearer",
            description: "The app's server key (`PARLEY_SERVER_KEY`): acts for the app.",
          },
        } satisfies Record<SchemeName, oas31.SecuritySchemeObject>,
      },
    },
    {
      // zod cannot render meta (a JSON object kept as sent, a z.custom): say what it is.
      override: ({ jsonSchema, zodSchema }) => {
        if (zodSchema === metaSchema) {
          Object.assign(jsonSchema, {
            type: "object",
            description: "A JSON object, kept as sent (at most 8 levels deep, no `__proto__` key).",
          });
        }
      },
      allowEmptySchema: { custom: true },
    },
  );
}
