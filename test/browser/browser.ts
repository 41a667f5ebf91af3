/**
 * The browser side of the widget tests: Debian's Chromium driven by playwright-core (headless,
 * loopback only), one browser per test file with a fresh profile, one context per user.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Frame,
  type Page,
} from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";
import { repoRoot } from "../helpers/server.ts";

export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? "/usr/bin/chromium";
/** CI installs Chromium (.ci/run); elsewhere the browser tests skip when it is missing. */
export const haveChromium = existsSync(CHROMIUM) || process.env.CI !== undefined;

export const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Pages in background contexts must keep their timers (typing, retries) running.
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--disable-backgrounding-occluded-windows",
];

export const ARTIFACTS = path.join(repoRoot, "test-artifacts", "browser");

/**
 * The host page of the tests: a SaaS page on its own origin (another loopback port) that embeds
 * the widget from the relay, as customers do. It is the demo page with fast reconnects, so
 * faults heal within a second, and it stays up while the relay is down.
 */
const TEST_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>widget test</title>
<style>html,body{margin:0;height:100%}parley-chat{height:100vh}</style></head>
<body><parley-chat></parley-chat>
<script>
const q = new URLSearchParams(location.search);
const relay = q.get("relay");
const chat = document.querySelector("parley-chat");
// Set before the element is defined (as a page may): the widget must pick these up.
{
  chat.setAttribute("url", relay);
  chat.clientOptions = {
    reconnectDelay: { minMs: 100, maxMs: 600 },
    retryDelay: { minMs: 100, maxMs: 600 },
    heartbeatMs: 3000,
    pongTimeoutMs: 2000,
    connectTimeoutMs: 3000,
    requestTimeoutMs: 4000,
    ackTimeoutMs: 4000,
  };
  if (q.get("token")) chat.setAttribute("token", q.get("token"));
  else chat.getToken = async () => {
    window.__tokenCalls = (window.__tokenCalls || 0) + 1;
    const res = await fetch(relay + "/v1/dev/token?user=" + encodeURIComponent(q.get("user")));
    // How a host page's getToken may answer: the bare JWT (default), or the relay's { token }
    // as an object, as JSON text, or the Response itself; "bad" is a back end's own shape.
    const as = q.get("tokenAs");
    if (as === "response") return res;
    if (!res.ok) throw new Error("token " + res.status);
    if (as === "text") return res.text();
    const json = await res.json();
    if (as === "object") return json;
    if (as === "bad") return { access_token: json.token, expires_in: 3600 };
    // A JWT the relay refuses (its signature altered), every time it is asked.
    if (as === "forged") return json.token.slice(0, -6) + (json.token.endsWith("AAAAAA") ? "BBBBBB" : "AAAAAA");
    return json.token;
  };
  if (q.get("no-threads")) chat.setAttribute("no-threads", "");
  if (q.get("theme")) chat.setAttribute("theme", q.get("theme"));
  if (q.get("strings")) chat.strings = JSON.parse(q.get("strings"));
  if (q.get("lang")) chat.setAttribute("lang", q.get("lang"));
  if (q.get("conversation")) chat.setAttribute("conversation", q.get("conversation"));
}
const script = document.createElement("script");
// The script may come from another relay than the one the widget talks to (one never reached).
script.src = (q.get("widgetFrom") || relay) + "/widget.js";
document.head.append(script);
</script></body></html>`;

export interface Browsers {
  browser: Browser;
  /** A fresh context (own storage, own IndexedDB). */
  context(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A new context showing `user` in `conversation`, waited until the widget is live. */
  open(user: string, conversation: string, query?: Record<string, string>): Promise<Page>;
  /** The same page, not waited for (states that never get live: refusals, offline). */
  page(
    user: string,
    conversation: string,
    query?: Record<string, string>,
    options?: BrowserContextOptions,
  ): Promise<Page>;
  /** The origin of the host page (another port than the relay's). */
  readonly hostUrl: string;
  /** A screenshot into test-artifacts/browser/. */
  shot(page: Page, name: string): Promise<string>;
}

/** One headless Chromium for this test file. */
export function useBrowser(baseUrl: () => string): Browsers {
  const state = {} as { browser: Browser; host: Server; hostUrl: string };
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  afterEach(() => {
    const errors = pageErrors.splice(0);
    if (errors.length > 0) throw new Error(`errors in the page:\n${errors.join("\n")}`);
  });
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    state.host = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
      res.end(TEST_PAGE);
    });
    await new Promise<void>((resolve) => state.host.listen(0, "127.0.0.1", resolve));
    state.hostUrl = `http://127.0.0.1:${(state.host.address() as AddressInfo).port}`;
    state.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      timeout: 20_000,
    });
  });
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
    await state.browser?.close().catch(() => undefined);
    state.host?.closeAllConnections();
    await new Promise((resolve) => state.host?.close(resolve));
  });
  const self: Browsers = {
    get browser() {
      return state.browser;
    },
    async context(options = {}) {
      const context = await state.browser.newContext({ viewport: { width: 760, height: 560 }, ...options });
      context.setDefaultTimeout(10_000);
      contexts.push(context);
      return context;
    },
    get hostUrl() {
      return state.hostUrl;
    },
    async open(user, conversation, query = {}) {
      const page = await self.page(user, conversation, query);
      await waitLive(page);
      return page;
    },
    async page(user, conversation, query = {}, options = {}) {
      const context = await self.context(options);
      const page = await context.newPage();
      page.on("pageerror", (e) => pageErrors.push(`${user}: ${String(e)}`));
      // Chromium reports a socket it could not open (blocked, refused) on the console.
      page.on("console", (m) => {
        if (m.type() === "error" && /blocked|ERR_BLOCKED/i.test(m.text()))
          pageErrors.push(`${user}: ${m.text()}`);
      });
      const q = new URLSearchParams({
        relay: baseUrl(),
        user,
        ...(conversation ? { conversation } : {}),
        ...query,
      });
      await page.goto(`${state.hostUrl}/?${q}`);
      return page;
    },
    async shot(page, name) {
      const file = path.join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file, timeout: 10_000 });
      return file;
    },
  };
  return self;
}

/** Until the widget's conversation is live (the banner is empty) and its history is shown. */
export async function waitLive(page: Page | Frame, timeout = 15_000): Promise<void> {
  await page.locator('parley-chat .banner[data-state="live"]').waitFor({ state: "attached", timeout });
  await page.locator("parley-chat .top span, parley-chat .top button").first().waitFor({ timeout });
}

/** The bodies of the stored messages shown (not pending or failed ones), in order. */
export function shownBodies(page: Page | Frame): Promise<string[]> {
  return page
    .locator("parley-chat li.msg:not([data-status]) .body")
    .evaluateAll((els) => els.map((e) => e.textContent ?? ""));
}

/** Polls `check` until it returns true (bounded); the error says what was last seen. */
export async function until(
  what: string,
  check: () => Promise<boolean | { ok: boolean; seen: unknown }>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: unknown;
  for (let i = 0; i < 10_000; i++) {
    const r = await check();
    if (r === true || (typeof r === "object" && r.ok)) return;
    seen = typeof r === "object" ? r.seen : r;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last seen: ${JSON.stringify(seen)})`);
}

/**
 * Waits until the open conversation's header says `title`. The widget asks the relay for a
 * title the thread list does not have yet, so the header can say something else at first.
 */
export function untilTitle(page: Page | Frame, title: string, timeoutMs = 10_000): Promise<void> {
  return until(
    `the header says ${JSON.stringify(title)}`,
    async () => {
      const seen = await page.locator("parley-chat header h2").textContent();
      return { ok: seen === title, seen };
    },
    timeoutMs,
  );
}

/** Waits until the page shows exactly `bodies` as stored messages. */
export function untilShown(
  page: Page | Frame,
  bodies: string[],
  timeoutMs = 10_000,
  who = "page",
): Promise<void> {
  return until(
    `${who} shows ${JSON.stringify(bodies)}`,
    async () => {
      const seen = await shownBodies(page);
      return { ok: JSON.stringify(seen) === JSON.stringify(bodies), seen };
    },
    timeoutMs,
  );
}

/** Types into the composer and presses Enter. */
export async function sendText(page: Page | Frame, text: string): Promise<void> {
  const input = page.locator("parley-chat textarea");
  await input.fill(text);
  await input.press("Enter");
}
