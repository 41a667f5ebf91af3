/**
 * `npm run example:react`: the React example against a dev relay (`npm start` in another
 * terminal). Bundles `main.tsx` with esbuild and serves it on http://127.0.0.1:5173 (`PORT`);
 * the page talks to the relay at `PARLEY_URL` (default http://127.0.0.1:8787) and signs in
 * through its dev token endpoint. The dev relay creates its demo conversations (alice, bob and
 * carol) on the first visit of `/demo`: this visits it once, so there is something to open.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { listenProblem } from "../../party/node/listen-problem.ts";

const relay = (process.env.PARLEY_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const port = Number(process.env.PORT ?? 5173);

const built = await esbuild.build({
  entryPoints: [fileURLToPath(new URL("./main.tsx", import.meta.url))],
  bundle: true,
  write: false,
  format: "iife",
  platform: "browser",
  target: "es2022",
  jsx: "automatic",
  minify: true,
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
const script = built.outputFiles[0]?.text ?? "";

const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley React example</title><link rel="icon" href="data:,">
<style>
body{font:15px system-ui,sans-serif;margin:0;color:#1d2230;background:#f4f5f8}
header{padding:.6rem 1rem;background:#1d2230;color:#fff}header a{color:#9cf}
main{display:grid;grid-template-columns:16rem 1fr;height:calc(100vh - 2.6rem)}
nav{border-right:1px solid #dde;overflow:auto;background:#fff}
nav button{display:flex;justify-content:space-between;width:100%;padding:.7rem 1rem;border:0;border-bottom:1px solid #eef;background:none;text-align:left;cursor:pointer;font:inherit}
nav button[aria-current]{background:#eef3ff}.badge{background:#d33;color:#fff;border-radius:1rem;padding:0 .5rem}
section{display:flex;flex-direction:column;min-height:0}ol{flex:1;overflow:auto;margin:0;padding:1rem;list-style:none}
li{margin:.3rem 0}.who{font-weight:600;margin-right:.4rem}.meta{color:#888;font-size:.8em;margin-left:.4rem}
li button{font-size:.8em;margin-left:.3rem}.status{color:#888}.failed{color:#c22}
form{display:flex;gap:.5rem;padding:.6rem 1rem;border-top:1px solid #dde;background:#fff}form input{flex:1;font:inherit;padding:.4rem}
.line{min-height:1.2em;padding:0 1rem;color:#666;font-size:.85em}
</style></head>
<body><div id="root"></div>
<script>window.PARLEY_URL = ${JSON.stringify(relay)};</script>
<script src="/app.js"></script></body></html>`;

const server = createServer((req, res) => {
  const js = req.url === "/app.js";
  res.writeHead(200, {
    "Content-Type": js ? "text/javascript; charset=utf-8" : "text/html; charset=utf-8",
    "Cache-Control": "no-store",
  });
  res.end(js ? script : html);
});
server.once("error", (error) => {
  console.error(`parley: React example: ${listenProblem("127.0.0.1", port, error)}`);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`parley: React example on ${url}/?user=alice (and ${url}/?user=bob), relay ${relay}`);
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));

// Seed the dev relay's demo conversations; the relay may still be starting (bounded retries).
for (let attempt = 1; attempt <= 30; attempt++) {
  try {
    const res = await fetch(`${relay}/demo`);
    await res.body?.cancel();
    if (res.ok) break;
    console.warn(`parley: ${relay}/demo answered ${res.status}: is the relay in dev mode (npm start)?`);
    break;
  } catch {
    if (attempt === 1) console.warn(`parley: waiting for the relay at ${relay} (npm start)…`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
