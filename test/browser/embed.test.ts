/**
 * The README's embed guide, followed literally: its four snippets, taken from README.md as they
 * are written, make a SaaS page on another origin (its own tiny HTTP server on another loopback
 * port) that chats through the relay. Step 1 names the variable the relay is started with, step 2
 * (curl) creates the conversation, step 3 (the back end's token endpoint) runs in this process,
 * step 4 is the page. Only the placeholders are filled in: the relay's URL, the server key, the
 * page's origin, and `currentUser`, which the guide leaves to the reader.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/server.ts";
import { history, useServer } from "../helpers/world.ts";
import { haveChromium, sendText, untilShown, useBrowser, waitLive } from "./browser.ts";

/** The fenced code blocks of the README's "Embed it, step by step", in order, by language. */
async function guideSnippets(): Promise<Array<{ lang: string; code: string }>> {
  const readme = await readFile(path.join(repoRoot, "README.md"), "utf8");
  const start = readme.indexOf("### Embed it, step by step");
  const end = readme.indexOf("\n### ", start + 1);
  expect(start, "the README has the embed guide").toBeGreaterThan(0);
  const section = readme.slice(start, end);
  return [...section.matchAll(/^( *)```(\w+)\n([\s\S]*?)^\1```$/gm)].map((m) => ({
    lang: m[2] as string,
    // The blocks sit in a numbered list: take their indentation off.
    code: (m[3] as string).replace(new RegExp(`^${m[1]}`, "gm"), ""),
  }));
}

type Handler = (request: Request) => Promise<Response>;

/** A node:http listener calling a web-standard handler. */
function serveFetch(handler: (request: Request) => Promise<Response>) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const response = await handler(
        new Request(`http://${req.headers.host}${req.url}`, { method: req.method }),
      );
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  };
}

describe.skipIf(!haveChromium)("the README's embed guide, followed literally", () => {
  // The page's origin must be known before the relay starts (step 1): the page's server first.
  const site = {} as { server: Server; origin: string; handler: Handler };
  const env: Record<string, string> = { NODE_ENV: "production" };
  beforeAll(async () => {
    site.server = createServer(serveFetch((request) => site.handler(request)));
    await new Promise<void>((resolve) => site.server.listen(0, "127.0.0.1", resolve));
    site.origin = `http://127.0.0.1:${(site.server.address() as AddressInfo).port}`;
    const [start] = await guideSnippets();
    // Step 1: the variable the guide starts the relay with, set to this page's origin.
    const variable = /\b(PARLEY_ALLOWED_ORIGINS)=https:\/\/app\.example\.com\b/.exec(start?.code ?? "")?.[1];
    expect(variable, "step 1 sets the allowed origins").toBe("PARLEY_ALLOWED_ORIGINS");
    expect(start?.code).toContain("NODE_ENV=production");
    env[variable as string] = site.origin;
  });
  const w = useServer({ env });
  const b = useBrowser(() => w.server.url);
  let dir = "";
  afterAll(async () => {
    site.server?.closeAllConnections();
    await new Promise((resolve) => site.server?.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
    delete process.env.PARLEY_URL;
    delete process.env.PARLEY_SERVER_KEY;
  });

  it("a page on another origin, made only of the guide's snippets, chats through the relay", async () => {
    const snippets = await guideSnippets();
    expect(snippets.map((s) => s.lang)).toEqual(["sh", "sh", "js", "html"]);
    const [, curl, backEnd, page] = snippets as [
      unknown,
      { code: string },
      { code: string },
      { code: string },
    ];
    const relayEnv = { PARLEY_URL: w.server.url, PARLEY_SERVER_KEY: w.server.serverKey };

    // Step 2: the conversation, with the user as a member (curl, as written).
    const created = await promisify(execFile)("bash", ["-c", curl.code], {
      env: { PATH: process.env.PATH ?? "", ...relayEnv },
      timeout: 10_000,
    });
    const { conversation } = JSON.parse(created.stdout) as {
      conversation: { id: string; members?: string[] };
    };
    expect(conversation.id).toBe("support-42");

    // Step 3: the back end's token endpoint, as written; the signed-in user is user-123.
    dir = await mkdtemp(path.join(os.tmpdir(), "parley-embed-"));
    const module = path.join(dir, "chat-token.mjs");
    await writeFile(module, `const currentUser = async () => ({ id: "user-123" });\n${backEnd.code}`);
    Object.assign(process.env, relayEnv);
    const { chatToken } = (await import(pathToFileURL(module).href)) as { chatToken: Handler };

    // Step 4: the page, with the relay where the guide says chat.example.com.
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme support</title></head>
<body><h1>Acme support</h1>
${page.code.replaceAll("https://chat.example.com", w.server.url)}
</body></html>`;
    site.handler = async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/api/chat-token") return chatToken(request);
      if (url.pathname === "/") return new Response(html, { headers: { "Content-Type": "text/html" } });
      if (url.pathname === "/favicon.ico") return new Response(null, { status: 204 });
      return new Response("not found", { status: 404 });
    };

    const context = await b.context();
    const browser = await context.newPage();
    const problems: string[] = [];
    browser.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    browser.on("pageerror", (e) => problems.push(String(e)));
    await browser.goto(`${site.origin}/`);
    expect(new URL(browser.url()).origin).not.toBe(new URL(w.server.url).origin);
    await waitLive(browser);
    await browser.locator("parley-chat header h2", { hasText: "Support" }).waitFor();
    await sendText(browser, "Hello, I need help with my invoice.");
    await untilShown(browser, ["Hello, I need help with my invoice."], 10_000, "user-123");
    // The agent answers from your back end (server key), and the page shows it.
    const reply = await w.admin.post("/v1/conversations/support-42/messages", {
      senderId: "agent-sam",
      clientMessageId: "agent-1",
      body: "Hi! Sam here, let me look.",
    });
    expect(reply.status, reply.text).toBe(201);
    await untilShown(
      browser,
      ["Hello, I need help with my invoice.", "Hi! Sam here, let me look."],
      10_000,
      "user-123",
    );
    expect(problems).toEqual([]);
    const stored = await history(await w.as("user-123"), "support-42");
    expect(stored.map((m) => m.senderId)).toEqual(["user-123", "agent-sam"]);
    await b.shot(browser, "embed-guide");
  });
});
