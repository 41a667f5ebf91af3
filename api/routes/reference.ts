/**
 * The API describing itself: `GET /v1/openapi.json` (always; built on first request and kept)
 * and `GET /docs`, the document rendered with the relay's own copy of Swagger UI (only when the
 * host gives it the files: Node and Deno in dev mode or with `PARLEY_DOCS=1`; else 404).
 */
import { Hono } from "hono";
import { ParleyError } from "../../party/core/errors.ts";
import type { ApiContext, ApiEnv } from "../context.ts";
import { DOCS_ASSET_FILES, DOCS_CSP, DOCS_INIT, DOCS_PAGE, type DocsAssets } from "../docs-page.ts";
import { buildOpenApiDocument, type OpenApiDocument } from "../openapi/document.ts";

const documents = new WeakMap<object, string>();

/** The document's JSON text for this API's options, rendered once per set of deps. */
function documentText(c: ApiContext): string {
  const deps = c.get("deps");
  let text = documents.get(deps);
  if (text === undefined) {
    const document: OpenApiDocument = buildOpenApiDocument({ devMode: deps.devMode });
    text = JSON.stringify(document);
    documents.set(deps, text);
  }
  return text;
}

function docsOf(c: ApiContext): DocsAssets {
  const docs = c.get("deps").docs;
  if (!docs)
    throw new ParleyError(
      "not_found",
      "no API reference page here: Node and Deno relays serve /docs in dev mode or with PARLEY_DOCS=1; edge deployments do not (GET /v1/openapi.json is served everywhere)",
    );
  return docs;
}

const isAssetFile = (file: string): file is (typeof DOCS_ASSET_FILES)[number] =>
  (DOCS_ASSET_FILES as readonly string[]).includes(file);

export const referenceRoutes = new Hono<ApiEnv>()
  .get("/v1/openapi.json", (c) => {
    c.header("Content-Type", "application/json; charset=UTF-8");
    c.header("Cache-Control", "no-cache");
    return c.body(documentText(c));
  })
  .get("/docs", (c) => {
    docsOf(c);
    c.header("Content-Security-Policy", DOCS_CSP);
    c.header("Cache-Control", "no-cache");
    return c.html(DOCS_PAGE);
  })
  .get("/docs/assets/:file", async (c) => {
    const docs = docsOf(c);
    const file = c.req.param("file");
    c.header("Cache-Control", "public, max-age=3600");
    c.header("X-Content-Type-Options", "nosniff");
    if (file === "init.js") {
      c.header("Content-Type", "text/javascript; charset=utf-8");
      return c.body(DOCS_INIT);
    }
    if (!isAssetFile(file)) throw new ParleyError("not_found", `no docs asset ${file}`);
    const content = await docs(file);
    c.header(
      "Content-Type",
      file.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8",
    );
    return c.body(typeof content === "string" ? content : new Uint8Array(content));
  });
