/**
 * `GET /docs` (CONTRACT.md v1.1, Operating): the OpenAPI document rendered by the relay's own
 * copy of Swagger UI, in dev mode or with PARLEY_DOCS=1; 404 in production otherwise.
 */
import { describe, expect, it } from "vitest";
import { api } from "../helpers/clients.ts";
import { startServer } from "../helpers/server.ts";
import { useServer } from "../helpers/world.ts";

const dev = useServer();
const production = useServer({ env: { NODE_ENV: "production" } });
const enabled = useServer({ env: { NODE_ENV: "production", PARLEY_DOCS: "1" } });

/** Every URL a page or script names outside its own origin. */
const externalUrls = (text: string) =>
  text.match(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\/[^"'\s>]+/gi) ?? [];

async function expectServed(url: string): Promise<void> {
  const anyone = api(url, null);
  const page = await anyone.get("/docs");
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toMatch(/^text\/html/);
  expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
  expect(page.text).toContain("docs/assets/swagger-ui-bundle.js");
  expect(externalUrls(page.text), "the page loads nothing from elsewhere").toEqual([]);
  const script = await anyone.get("/docs/assets/swagger-ui-bundle.js");
  expect(script.status).toBe(200);
  expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
  expect(script.text).toContain("SwaggerUIBundle");
  const css = await anyone.get("/docs/assets/swagger-ui.css");
  expect(css.status).toBe(200);
  expect(css.headers.get("content-type")).toMatch(/^text\/css/);
  const init = await anyone.get("/docs/assets/init.js");
  expect(init.status).toBe(200);
  expect(init.text).toContain("v1/openapi.json");
  expect(init.text, "no call to Swagger's public validator").toContain("validatorUrl: null");
  // Only the page's own files: nothing else of the package (or the disk) is reachable.
  for (const path of [
    "/docs/assets/package.json",
    "/docs/assets/..%2Fpackage.json",
    "/docs/assets/index.html",
  ]) {
    expect((await anyone.get(path)).status, path).toBe(404);
  }
}

describe("GET /docs", () => {
  it("dev mode: the reference page and its script, styles and start-up, all from the relay", async () => {
    await expectServed(dev.server.url);
  });

  it("production: 404 for the page and its files; the document itself is still served", async () => {
    const anyone = api(production.server.url, null);
    for (const path of ["/docs", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/init.js"]) {
      const res = await anyone.get(path);
      expect(res.status, path).toBe(404);
      expect(res.json.error.code).toBe("not_found");
    }
    const doc = await anyone.get("/v1/openapi.json");
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.json.paths)).not.toContain("/v1/dev/token");
  });

  it("production with PARLEY_DOCS=1: served", async () => {
    await expectServed(enabled.server.url);
  });

  it("PARLEY_DOCS other than 1 or 0 stops the start with a message naming it", async () => {
    await expect(startServer({ env: { PARLEY_DOCS: "yes" } })).rejects.toThrow(/PARLEY_DOCS must be 1 or 0/);
  });
});
