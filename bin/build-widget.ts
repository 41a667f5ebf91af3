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
 * and again in dev when a file under `client/` changes (`npm run dev:workers` runs it once
 * itself instead, see bin/edge-dev.ts). Node and Deno relays bundle on first
 * request instead and need no build.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { bundleWidget } from "../party/node/widget-bundle.ts";

/** Beside the sources, whatever directory the command runs from. */
const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));

/**
 * Writes `code` to `path` only when it differs, and then by rename. Dev servers watch the edge
 * copy (it is part of their bundle): `partykit dev` rebuilds and restarts when it is rewritten,
 * even with the same bytes, and every `wrangler dev` or `partykit dev` that starts runs this
 * command. Two dev servers side by side (the test suite runs them in parallel) would otherwise
 * restart each other, and a half-written file could be read.
 */
async function writeIfChanged(path: string, code: Uint8Array): Promise<void> {
  const current = await readFile(path).catch(() => undefined);
  if (current && Buffer.compare(current, code) === 0) return;
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, code);
  await rename(temp, path);
}

const code = await bundleWidget();
await mkdir(dist("edge"), { recursive: true });
await Promise.all([
  writeIfChanged(dist("widget.js"), code),
  writeIfChanged(dist("edge/widget.js.txt"), code),
]);
console.log(
  `parley: widget built (dist/widget.js, dist/edge/widget.js.txt): ${code.byteLength} bytes, ${gzipSync(code).byteLength} gzipped`,
);
