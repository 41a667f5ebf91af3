/**
 * The widget as the relay serves it: `/widget.js` (size budget, caching, compression), the
 * dev-only demo, and a source check that user text never goes through an HTML parser.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinStylesheetLines } from "../../party/node/widget-css-trim.ts";
import { removeCalls } from "../../party/node/widget-trim.ts";
import { repoRoot, type ServerHandle, startServer } from "../helpers/server.ts";
import { useServer } from "../helpers/world.ts";

/** Widget + SDK, minified and gzipped, must stay within this. */
const BUDGET_BYTES = 30 * 1024;

describe("/widget.js and /demo", () => {
  const w = useServer();

  it(`is one script of widget + SDK within ${BUDGET_BYTES / 1024} KB gzipped`, async () => {
    const res = await fetch(`${w.server.url}/widget.js`, { headers: { "Accept-Encoding": "identity" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const code = Buffer.from(await res.arrayBuffer());
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(`widget.js: ${code.length} bytes minified, ${gzipped} bytes gzipped`);
    expect(gzipped).toBeLessThanOrEqual(BUDGET_BYTES);
    const text = code.toString("utf8");
    expect(text).toContain("parley-chat");
    expect(text).not.toMatch(/\bfrom\s*"node:|require\("ws"\)/);
    // partysocket without its debug logging and Node-only advice (party/node/widget-trim.ts).
    expect(text).toContain("extends EventTarget");
    expect(text).not.toMatch(
      /No WebSocket implementation|send\(\) was called after close|"(connect|open event)"/,
    );
  });

  it("is served gzipped when asked, and revalidates with its ETag", async () => {
    const plain = Buffer.from(
      await (
        await fetch(`${w.server.url}/widget.js`, { headers: { "Accept-Encoding": "identity" } })
      ).arrayBuffer(),
    );
    // Node's fetch would decompress for us; ask the raw bytes through a plain request instead.
    const { request } = await import("node:http");
    const raw = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const req = request(`${w.server.url}/widget.js`, { headers: { "Accept-Encoding": "gzip" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
    expect(raw.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(raw.body).equals(plain)).toBe(true);
    // The budget holds for the bytes a browser downloads too (the relay's gzip is not level 9).
    console.log(`widget.js as served: ${raw.body.length} bytes gzipped`);
    expect(raw.body.length).toBeLessThanOrEqual(BUDGET_BYTES);
    const etag = raw.headers.etag as string;
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    const again = await fetch(`${w.server.url}/widget.js`, { headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
  });

  it("dev mode: /demo shows two users side by side, /demo?user= one chat", async () => {
    const pair = await fetch(`${w.server.url}/demo`);
    expect(pair.status).toBe(200);
    expect(pair.headers.get("content-type")).toMatch(/^text\/html/);
    expect(pair.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await pair.text();
    expect(html).toContain('src="/demo?user=alice&amp;conversation=demo-welcome"');
    expect(html).toContain('src="/demo?user=bob&amp;conversation=demo-welcome"');
    // The query is read in the browser, never echoed into the page.
    const one = await fetch(`${w.server.url}/demo?user=%3Cscript%3E&conversation=x`);
    expect(one.status).toBe(200);
    const page = await one.text();
    expect(page).toContain('<script src="/widget.js"></script>');
    expect(page.toLowerCase()).not.toContain("%3cscript%3e");
    expect(page).toBe(await (await fetch(`${w.server.url}/demo?user=bob`)).text());
    // The demo conversations exist (seeded once, however often the page loads).
    // `npm start`'s startup line links to it (the banner itself is for a terminal only).
    expect(w.server.output()).toContain(`"demo":"${w.server.url}/demo"`);
    const admin = w.admin;
    const res = await admin.get("/v1/conversations/demo-welcome");
    expect(res.status).toBe(200);
    expect(res.json.conversation.lastSeq).toBe(2);
  });
});

describe("production", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await startServer({ env: { NODE_ENV: "production" } });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("serves /widget.js but has no demo", async () => {
    expect((await fetch(`${server.url}/widget.js`)).status).toBe(200);
    for (const p of ["/demo", "/demo?user=alice&conversation=demo-welcome"]) {
      const res = await fetch(`${server.url}${p}`);
      expect(res.status, p).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
    }
  });
});

describe("widget bundle: partysocket trim", () => {
  it("replaces whole calls, past parentheses and escapes inside literals", () => {
    const source = 'a();\nif (x) console.error(`say \\`f(\\` ) (`);\nthis._debug("x(", { y: ")" });\nb();';
    expect(removeCalls(source, "console.error(")).toEqual({
      text: 'a();\nif (x) void 0;\nthis._debug("x(", { y: ")" });\nb();',
      removed: 1,
    });
    expect(removeCalls(source, "this._debug(").text).toContain("void 0;\nb();");
    expect(removeCalls(source, "console.warn(")).toEqual({ text: source, removed: 0 });
    expect(() => removeCalls("console.warn((1)", "console.warn(")).toThrow(/unbalanced/);
  });
});

describe("widget bundle: stylesheet line breaks", () => {
  it("joins the rules' lines, and refuses a break that may separate two words", async () => {
    const source =
      'const a = "x\ny";\nexport const styles = `\n:host{color:red}\n.a{b:1;\nc:2}\n`;\nconst z = `\n`;';
    expect(joinStylesheetLines(source)).toBe(
      'const a = "x\ny";\nexport const styles = `:host{color:red}.a{b:1;c:2}`;\nconst z = `\n`;',
    );
    expect(() => joinStylesheetLines("export const styles = `\n.a{font:14px\nsans-serif}`;")).toThrow(
      /ends in "x"/,
    );
    expect(() => joinStylesheetLines("const other = `a`;")).toThrow(/no `export const styles/);
    // The real stylesheet joins (the bundle's build would fail otherwise) and keeps every rule.
    const real = await readFile(path.join(repoRoot, "client/widget/styles.ts"), "utf8");
    const stylesheet = (text: string) => text.slice(text.indexOf("export const styles")).split("`;")[0] ?? "";
    const [before, after] = [stylesheet(real), stylesheet(joinStylesheetLines(real))];
    expect(after).not.toContain("\n");
    expect(after).toBe(before.replaceAll("\n", ""));
    expect(before.split("\n").length).toBeGreaterThan(80);
  });
});

describe("widget sources", () => {
  it("never hand text to an HTML parser", async () => {
    const dir = path.join(repoRoot, "client", "widget");
    const files = (await readdir(dir)).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const source = await readFile(path.join(dir, file), "utf8");
      expect(source, file).not.toMatch(
        /innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser/,
      );
    }
  });
});
