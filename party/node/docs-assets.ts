/**
 * Swagger UI's files for `GET /docs` on Node and Deno: read from the swagger-ui-dist package
 * (a dependency) on first use and kept, so the reference page needs no CDN.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { DocsAssetFile, DocsAssets } from "../../api/docs-page.ts";

const cache = new Map<DocsAssetFile, Promise<Uint8Array>>();

export const swaggerUiAssets: DocsAssets = (file) => {
  let content = cache.get(file);
  if (!content) {
    const folder = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
    content = readFile(join(folder, file)).then((buffer) => new Uint8Array(buffer));
    // A failed read (a broken install) is tried again next time, not remembered.
    content.catch(() => cache.delete(file));
    cache.set(file, content);
  }
  return content;
};
