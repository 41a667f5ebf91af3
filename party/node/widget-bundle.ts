/**
 * The widget's script for Node and Deno relays: `client/widget/index.ts` bundled with esbuild
 * (minified IIFE, global `Parley`). `npm start` runs the sources and has no build step, so a
 * prebuilt file could be missing or stale; esbuild is installed with tsx anyway, and a bundle
 * takes well under a second, once per process. `npm run build:widget` writes the same bundle
 * to a file for hosts that cannot run esbuild (the edge).
 */
import { fileURLToPath } from "node:url";
import { trimStylesheet } from "./widget-css-trim.ts";
import { trimPartySocket } from "./widget-trim.ts";

export async function bundleWidget(): Promise<Uint8Array> {
  const esbuild = await import("esbuild");
  const resolveDir = fileURLToPath(new URL("../../client/widget/", import.meta.url));
  const result = await esbuild.build({
    stdin: { contents: 'export * from "./index";', resolveDir, sourcefile: "parley-widget.js", loader: "js" },
    bundle: true,
    write: false,
    format: "iife",
    globalName: "Parley",
    platform: "browser",
    target: "es2022",
    minify: true,
    // partysocket's internals are `_`-prefixed properties (`_ws`, `_retryCount`, `_options` …),
    // never reached by name from outside the bundle: shortened, they save about 250 bytes
    // gzipped, which user profiles needed to stay within the widget's 30 KB. `_pk` is a query
    // parameter's name (an object key that must stay as written).
    mangleProps: /^_[a-z]/,
    reserveProps: /^_pk$/,
    // partysocket's debug logging and Node-only advice, which the widget never reaches, and the
    // stylesheet's line breaks.
    plugins: [trimPartySocket, trimStylesheet],
    legalComments: "none",
    charset: "utf8",
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.contents;
  if (!code) throw new Error("esbuild produced no output for the widget");
  return code;
}
