/**
 * `GET /v1/openapi.json` (CONTRACT.md v1.1, Operating): an OpenAPI 3.1 document that describes
 * every route of the Hono app, and nothing else. Adding a route without describing it fails here.
 */
import { getHttpOperationsFromSpec } from "@stoplight/prism-http";
import { describe, expect, it } from "vitest";
import { createApi } from "../../api/app.ts";
import type { ApiDeps } from "../../api/context.ts";
import { buildOpenApiDocument } from "../../api/openapi/document.ts";
import { defaultLimits } from "../../party/core/limits.ts";
import { ERROR_STATUS } from "../../protocol/codes.ts";
import { api, type Json } from "../helpers/clients.ts";
import { useServer } from "../helpers/world.ts";

const w = useServer();

/** The Hono app's routes as `METHOD /path/{param}` (middleware, registered for ALL, left out). */
function appRoutes(devMode: boolean): Set<string> {
  // Only the route table is read: nothing here serves a request, so no host is needed.
  const deps = { limits: defaultLimits, devMode } as ApiDeps;
  const routes = createApi(deps).routes.filter((r) => r.method !== "ALL");
  return new Set(routes.map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`));
}

type Doc = ReturnType<typeof buildOpenApiDocument>;
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"] as const;

function documentedRoutes(doc: Doc): Set<string> {
  const out = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) if (item?.[method]) out.add(`${method.toUpperCase()} ${path}`);
  }
  return out;
}

const DEV_ONLY = ["GET /v1/dev/token", "GET /demo"];

describe("the OpenAPI document", () => {
  it("is served at /v1/openapi.json as OpenAPI 3.1, without credentials", async () => {
    const res = await api(w.server.url, null).get("/v1/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.json.openapi).toBe("3.1.0");
    expect(res.json).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument({ devMode: true }))));
  });

  it("describes every route of the Hono app, and no route the app does not have (dev mode)", async () => {
    const doc = (await api(w.server.url, null).get("/v1/openapi.json")).json as Doc;
    const routes = appRoutes(true);
    const documented = documentedRoutes(doc);
    const missing = [...routes].filter((r) => !documented.has(r));
    const extra = [...documented].filter((r) => !routes.has(r));
    expect(missing, "routes of the app that the document does not describe").toEqual([]);
    expect(extra, "operations of the document that the app does not have").toEqual([]);
    for (const route of DEV_ONLY) expect(documented.has(route)).toBe(true);
  });

  it("in production leaves out the dev-only routes (they answer 404 there)", () => {
    const documented = documentedRoutes(buildOpenApiDocument({ devMode: false }));
    const routes = appRoutes(false);
    for (const route of DEV_ONLY) routes.delete(route);
    expect([...documented].sort()).toEqual([...routes].sort());
  });

  it("gives every operation an id, a security requirement, a success, and errors in the contract's shape", () => {
    // Read as plain JSON, as a client of the document would.
    const doc: Json = JSON.parse(JSON.stringify(buildOpenApiDocument({ devMode: true })));
    const ids = new Set<string>();
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      for (const method of METHODS) {
        const op = item?.[method];
        if (!op) continue;
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.operationId, where).toBeTruthy();
        expect(ids.has(op.operationId as string), `${where}: duplicate operationId`).toBe(false);
        ids.add(op.operationId as string);
        expect(Array.isArray(op.security), `${where}: security`).toBe(true);
        const statuses = Object.keys(op.responses ?? {});
        expect(
          statuses.some((s) => /^[23]/.test(s)),
          `${where}: a success`,
        ).toBe(true);
        // Any request can be too large or meet an internal error.
        expect(statuses, where).toEqual(expect.arrayContaining(["413", "500"]));
        for (const status of statuses.filter((s) => /^[45]/.test(s))) {
          const ref = op.responses?.[status]?.content?.["application/json"]?.schema?.$ref;
          expect(ref, `${where} ${status}`).toBe(`#/components/schemas/Error${status}`);
        }
        // Path parameters are all declared.
        const declared = new Set(
          (op.parameters ?? []).filter((p: Json) => p.in === "path").map((p: Json) => p.name),
        );
        for (const [, name] of path.matchAll(/\{([^}]+)\}/g))
          expect(declared.has(name), `${where}: ${name}`).toBe(true);
      }
    }
  });

  it("lists, for each error status, exactly the contract's codes of that status", () => {
    const schemas = buildOpenApiDocument({ devMode: true }).components?.schemas ?? {};
    const statuses = new Set(Object.values(ERROR_STATUS));
    for (const status of statuses) {
      const schema = schemas[`Error${status}`] as {
        properties: { error: { properties: { code: { enum: string[] } } } };
      };
      const codes = Object.entries(ERROR_STATUS)
        .filter(([, s]) => s === status)
        .map(([code]) => code);
      expect(schema.properties.error.properties.code.enum.sort(), `Error${status}`).toEqual(codes.sort());
    }
    expect((schemas.ErrorCode as { enum: string[] }).enum.sort()).toEqual(Object.keys(ERROR_STATUS).sort());
  });

  it("declares both credentials as security schemes: the user token (also as ?token=) and the server key", () => {
    const schemes = buildOpenApiDocument({ devMode: true }).components?.securitySchemes ?? {};
    expect(schemes.userToken).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(schemes.tokenQuery).toMatchObject({ type: "apiKey", in: "query", name: "token" });
    expect(schemes.serverKey).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("is read by a tool nobody here wrote (Stoplight's parser, as Prism uses it): every operation", async () => {
    const doc = buildOpenApiDocument({ devMode: true });
    const operations = await getHttpOperationsFromSpec(JSON.parse(JSON.stringify(doc)));
    expect(operations.length).toBe(documentedRoutes(doc).size);
  });
});
