/**
 * The embeddable widget: `GET /widget.js` serves `<parley-chat>` with the SDK as one minified
 * bundle, and in dev mode `GET /demo` shows it working. The script comes from the host
 * (`ApiDeps.widgetScript`): Node and Deno bundle the sources with esbuild on first use
 * (`party/node/widget-bundle.ts`); a host without one answers 404 here. This module stays
 * web-standard: it compresses and fingerprints what it is given, nothing more.
 */
import { Hono } from "hono";
import { isParleyError, ParleyError } from "../../party/core/errors.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import type { WidgetBundle } from "../widget-bundle.ts";

/** The demo's conversations (dev mode only), created on the first visit of `/demo`. */
const DEMO = [
  {
    id: "demo-welcome",
    title: "Welcome",
    members: ["alice", "bob"],
    seed: [
      ["alice", "Hi Bob! This is Parley, running on your machine."],
      ["bob", "Hi Alice! Type on either side and watch the other one: typing, seen, unread."],
    ],
  },
  {
    id: "demo-design",
    title: "Design review",
    members: ["alice", "bob", "carol"],
    seed: [["carol", "The new mockups are up. Could you both take a look?"]],
  },
  { id: "demo-random", title: "Random", members: ["alice", "bob"], seed: [["bob", "Lunch at one?"]] },
] as const;

async function ensureDemo(deps: ApiDeps): Promise<void> {
  for (const demo of DEMO) {
    try {
      await deps.directory.createConversation("default", {
        id: demo.id,
        title: demo.title,
        members: [...demo.members],
      });
    } catch (error) {
      if (isParleyError(error) && error.code === "conflict") continue;
      throw error;
    }
    const room = await deps.directory.room("default", demo.id);
    let n = 0;
    for (const [sender, body] of demo.seed) {
      await room.send(sender, { clientMessageId: `demo-seed-${++n}`, body });
    }
  }
}

const DEMO_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-src 'self'; img-src 'self' data:";

/** One user's chat. The query is read in the browser, never written into the HTML. */
const USER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley demo</title>
<link rel="icon" href="data:,">
<style>html,body{height:100%;margin:0;background:#f0f2f6}parley-chat{height:100vh;--parley-radius:12px}</style>
<script src="/widget.js"></script>
</head>
<body>
<parley-chat></parley-chat>
<script>
const query = new URLSearchParams(location.search);
const user = query.get("user");
const chat = document.querySelector("parley-chat");
document.title = "Parley demo: " + user;
chat.getToken = async () => {
  const res = await fetch("/v1/dev/token?user=" + encodeURIComponent(user));
  if (!res.ok) throw new Error("dev token: HTTP " + res.status);
  return (await res.json()).token;
};
if (query.get("conversation")) chat.setAttribute("conversation", query.get("conversation"));
</script>
</body>
</html>
`;

/** Two users side by side in the demo conversations. */
const PAIR_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley demo: alice and bob</title>
<link rel="icon" href="data:,">
<style>
html,body{height:100%;margin:0;font:14px/1.4 system-ui,sans-serif;background:#e9ecf2;color:#1d2330}
body{display:flex;flex-direction:column}
header{padding:10px 18px}
h1{font-size:17px;margin:0 0 2px}
p{margin:0;color:#5f6b7a}
main{flex:1;display:grid;grid-template-columns:1fr 1fr;gap:14px;padding:0 14px 14px;min-height:0}
figure{margin:0;display:flex;flex-direction:column;min-height:0}
figcaption{font-weight:600;margin:0 0 4px 4px}
iframe{flex:1;border:0;width:100%;border-radius:12px;background:#fff}
</style>
</head>
<body>
<header>
<h1>Parley demo</h1>
<p>Alice and Bob, each with their own token, in the same conversations. Type on one side and watch the other: messages, typing, seen, unread counts. Each side is <code>/demo?user=…&amp;conversation=…</code>.</p>
</header>
<main>
<figure><figcaption>alice</figcaption><iframe title="Alice's chat" src="/demo?user=alice&amp;conversation=demo-welcome"></iframe></figure>
<figure><figcaption>bob</figcaption><iframe title="Bob's chat" src="/demo?user=bob&amp;conversation=demo-welcome"></iframe></figure>
</main>
</body>
</html>
`;

export const widgetRoutes = new Hono<ApiEnv>()
  .get("/widget.js", async (c) => {
    const widget = c.get("widget");
    if (!widget)
      throw new ParleyError("not_found", "this relay does not serve the widget (no widget script)");
    let bundle: WidgetBundle;
    try {
      bundle = await widget();
    } catch (error) {
      c.get("deps").onError(error, "bundling the widget");
      throw new ParleyError("internal", "the widget bundle could not be built; see the relay's log");
    }
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("Cache-Control", "public, max-age=300");
    c.header("ETag", bundle.etag);
    c.header("Vary", "Accept-Encoding");
    // Public code: any page may load it (also as a module or with integrity checks).
    c.header("Access-Control-Allow-Origin", "*");
    c.header("Cross-Origin-Resource-Policy", "cross-origin");
    c.header("X-Content-Type-Options", "nosniff");
    if (c.req.header("if-none-match") === bundle.etag) return c.body(null, 304);
    if (/\bgzip\b/i.test(c.req.header("accept-encoding") ?? "")) {
      c.header("Content-Encoding", "gzip");
      // workerd compresses a body itself when the response names an encoding, unless told the
      // body is encoded already (`encodeBody: "manual"`): without it the edge sent gzip twice.
      // Node and Deno ignore the extra field.
      const init: ResponseInit & { encodeBody: "manual" } = {
        status: 200,
        headers: c.res.headers,
        encodeBody: "manual",
      };
      return new Response(bundle.gzip, init);
    }
    return c.body(bundle.code);
  })
  .get("/demo", async (c) => {
    const deps = c.get("deps");
    if (!deps.devMode) throw new ParleyError("not_found", "no such route");
    c.header("Content-Security-Policy", DEMO_CSP);
    c.header("Cache-Control", "no-store");
    await ensureDemo(deps);
    return c.html(c.req.query("user") ? USER_PAGE : PAIR_PAGE);
  });
