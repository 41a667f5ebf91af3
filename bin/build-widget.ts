/**
 * `npm run build:widget`: writes the widget bundle to `dist/widget.js` for hosts that serve it as
 * a static file (the edge adapters cannot run esbuild; the Node and Deno relays bundle it on
 * first request and need no build).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { bundleWidget } from "../party/node/widget-bundle.ts";

const code = await bundleWidget();
await mkdir("dist", { recursive: true });
await writeFile("dist/widget.js", code);
console.log(`dist/widget.js: ${code.byteLength} bytes, ${gzipSync(code).byteLength} gzipped`);
