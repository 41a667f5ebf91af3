/**
 * `npm run build:widget`: bundles the widget once and writes it twice:
 *
 * - `dist/widget.js`, for hosts that serve it as a static file;
 * - `dist/edge/widget.js.txt`, which the edge shells (`party/cloudflare/worker.ts`,
 *   `party/partykit/main.ts`) import as a text module and hand to the API as its
 *   `widgetScript`. The `.txt` name is what both bundlers already read as text (wrangler's
 *   default `Text` rule, esbuild's default loader under PartyKit), so neither needs a rule.
 *
 * The edge cannot run esbuild, so `wrangler.jsonc` and `partykit.json` run this as their
 * `build.command`: before `wrangler dev` / `wrangler deploy` and `partykit dev` / `partykit deploy`,
 * and again in dev when a file under `client/` changes. Node and Deno relays bundle on first
 * request instead and need no build.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { bundleWidget } from "../party/node/widget-bundle.ts";

/** Beside the sources, whatever directory the command runs from. */
const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));

const code = await bundleWidget();
await mkdir(dist("edge"), { recursive: true });
await Promise.all([writeFile(dist("widget.js"), code), writeFile(dist("edge/widget.js.txt"), code)]);
console.log(
  `parley: widget built (dist/widget.js, dist/edge/widget.js.txt): ${code.byteLength} bytes, ${gzipSync(code).byteLength} gzipped`,
);
