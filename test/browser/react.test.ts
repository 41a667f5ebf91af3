/**
 * `parley/react` with real React (development build, StrictMode) in Chromium against a real
 * relay: two users, each with a provider, `useInbox()` and `useConversation(id)`, on a page
 * bundled with esbuild from test/browser/react-page.ts. Every wait is bounded.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/server.ts";
import { send, uid, useServer } from "../helpers/world.ts";
import { ARGS, CHROMIUM, haveChromium, until } from "./browser.ts";

interface Row {
  seq: number;
  body: string;
  deleted: boolean;
  reactions: string[];
}

/** The page's bundle: the test page, the bindings, the SDK and React. */
async function bundlePage(): Promise<string> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [path.join(repoRoot, "test/browser/react-page.ts")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2022",
    define: { "process.env.NODE_ENV": '"development"' },
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
}

const HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>react test</title></head>
<body><div id="root"></div><script src="/page.js"></script></body></html>`;

describe.skipIf(!haveChromium)("parley/react in Chromium", () => {
  const w = useServer({
    env: { PARLEY_PRESENCE_GRACE_MS: "300", PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" },
  });
  const state = {} as { browser: Browser; host: Server; hostUrl: string };
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const script = await bundlePage();
    expect(script.length).toBeGreaterThan(1000);
    state.host = createServer((req, res) => {
      const js = req.url === "/page.js";
      res.writeHead(200, {
        "Content-Type": js ? "text/javascript; charset=utf-8" : "text/html; charset=utf-8",
        "Cache-Control": "no-store",
      });
      res.end(js ? script : HTML);
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

  /** `user`'s page on `conversation`, waited until the conversation is live. */
  async function open(user: string, conversation: string, query: Record<string, string> = {}): Promise<Page> {
    const context = await state.browser.newContext();
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(`${user}: ${String(e)}`));
    // React's warnings (a snapshot not cached, a missing key …) are console errors; the
    // refusals the test provokes (403, 413) show there too, as failed resources.
    page.on("console", (m) => {
      if (m.type() === "error" && !/^Failed to load resource/.test(m.text()))
        pageErrors.push(`${user} console: ${m.text()}`);
    });
    const q = new URLSearchParams({
      relay: w.server.url,
      token: await w.token(user),
      conversation,
      ...query,
    });
    await page.goto(`${state.hostUrl}/?${q}`);
    await page.locator('#chat[data-state="live"]').waitFor({ timeout: 15_000 });
    return page;
  }

  /** The messages the hook returns now. */
  const rows = (page: Page): Promise<Row[]> =>
    page.evaluate(() => {
      const chat = (window as unknown as { parley: { chat?: { messages: Row[] } } }).parley.chat;
      return (chat?.messages ?? []).map((m) => ({
        seq: m.seq,
        body: m.body,
        deleted: m.deleted === true,
        reactions: Object.keys(m.reactions),
      }));
    });

  /** What the page rendered: the bodies of the message rows, in order. */
  const shown = (page: Page): Promise<string[]> =>
    page.locator("#messages li .body").evaluateAll((els) => els.map((e) => e.textContent ?? ""));

  async function untilShown(page: Page, bodies: string[], who: string): Promise<void> {
    await until(`${who} renders ${JSON.stringify(bodies)}`, async () => {
      const seen = await shown(page);
      return { ok: JSON.stringify(seen) === JSON.stringify(bodies), seen };
    });
  }

  /** Runs `code` with the page's harness (`window.parley`) as `p`. */
  const run = <T>(page: Page, code: string): Promise<T> =>
    page.evaluate(`(async (p) => { ${code} })(window.parley)`) as Promise<T>;

  const text = (page: Page, selector: string) => page.locator(selector).textContent();

  it("two users: history, order, send/edit/react/delete in latest state, typing, presence, unread, a refused change, unmount", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "React" });
    // History before anyone opens it: the first page is loaded.
    await send(await w.as(alice), conv, uid("m"), "zero");
    const [pa, pb] = await Promise.all([open(alice, conv), open(bob, conv)]);
    await untilShown(pb, ["zero"], "bob");
    // StrictMode mounts, unmounts and mounts again: still one client, one socket each.
    for (const page of [pa, pb]) {
      expect(await run(page, `return p.socketsMade("/parties/conversation/");`)).toBe(1);
      expect(await run(page, `return p.socketsMade("/parties/inbox/");`)).toBe(1);
    }

    // Three sends in one go: each user sees them once, in order.
    await run(pa, `await Promise.all([p.chat.send("one"), p.chat.send("two"), p.chat.send("three")]);`);
    await untilShown(pb, ["zero", "one", "two", "three"], "bob");
    await untilShown(pa, ["zero", "one", "two", "three"], "alice");
    const seqs = (await rows(pb)).map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // Bob's inbox counts Alice's messages as unread until he reads them; Alice's own don't count.
    await until("bob's unread is 4", async () => ({
      ok: (await pb.locator("#threads").getAttribute("data-unread")) === "4",
      seen: await pb.locator("#threads").getAttribute("data-unread"),
    }));
    expect(await pa.locator("#threads").getAttribute("data-unread")).toBe("0");
    await run(pb, "await p.chat.markRead();");
    await until("bob's unread is 0", async () => ({
      ok: (await pb.locator("#threads").getAttribute("data-unread")) === "0",
      seen: await pb.locator("#threads").getAttribute("data-unread"),
    }));

    // Typing and presence.
    await run(pb, "p.chat.signalTyping();");
    await until("alice sees bob typing", async () => ({
      ok: (await text(pa, "#typing")) === bob,
      seen: await text(pa, "#typing"),
    }));
    await until("alice sees both online", async () => ({
      ok: (await text(pa, "#presence")) === [alice, bob].sort().join(","),
      seen: await text(pa, "#presence"),
    }));

    // Edit, react and delete: both in latest state.
    const seqOf = async (page: Page, body: string) => (await rows(page)).find((r) => r.body === body)?.seq;
    const [one, two, three] = [await seqOf(pa, "one"), await seqOf(pa, "two"), await seqOf(pa, "three")];
    await run(pa, `await p.chat.edit(${two}, { body: "two, edited" });`);
    await run(pb, `await p.chat.react(${one}, "👍");`);
    await run(pa, `await p.chat.remove(${three});`);
    for (const [page, who] of [
      [pa, "alice"],
      [pb, "bob"],
    ] as const) {
      await untilShown(page, ["zero", "one", "two, edited", ""], who);
      await until(`${who} sees the reaction and the tombstone`, async () => {
        const r = await rows(page);
        const ok =
          r.find((m) => m.seq === one)?.reactions.join() === "👍" && r.find((m) => m.seq === three)?.deleted;
        return { ok: ok === true, seen: r };
      });
    }

    // A refused change: Bob edits Alice's message. Shown at once, then rolled back, with why.
    const refused = await run<string>(
      pb,
      `try { await p.chat.edit(${one}, { body: "not yours" }); return "accepted"; } catch (e) { return e.code; }`,
    );
    expect(refused).toBe("forbidden");
    await until("bob sees the error", async () => ({
      ok: (await text(pb, "#error")) === "forbidden",
      seen: await text(pb, "#error"),
    }));
    await untilShown(pb, ["zero", "one", "two, edited", ""], "bob after the rollback");
    await untilShown(pa, ["zero", "one", "two, edited", ""], "alice never sees it");

    // A send refused for good stays in `pending` as failed until dismissed.
    const big = "x".repeat(17_000);
    await run(pa, `await p.chat.send("${big}").catch(() => undefined);`);
    await pa.locator('#pending li[data-status="failed"]').waitFor();
    expect(await run(pa, `return p.chat.pending[0].error.code;`)).toBe("too_large");
    await run(pa, `p.chat.dismiss(p.chat.pending[0].clientMessageId);`);
    await pa.locator("#pending li").waitFor({ state: "detached" });

    // Every render had its messages once each, ascending.
    for (const page of [pa, pb]) {
      const renders = await run<number[][]>(page, "return p.renders;");
      expect(renders.length).toBeGreaterThan(3);
      for (const r of renders) expect(r).toEqual([...new Set(r)].sort((a, b) => a - b));
    }

    // Another id in the same component: the old conversation is released, the new one opened.
    const other = await w.conversation([bob], { title: "Other" });
    await run(pb, `p.switchTo(${JSON.stringify(other)});`);
    await until("bob's socket moved to the other conversation", async () => {
      const seen = await run<number[]>(
        pb,
        `return [p.openSockets("/conversation/${conv}?"), p.openSockets("/conversation/${other}?")];`,
      );
      return { ok: seen.join() === "0,1", seen };
    });
    await pb.locator('#chat[data-state="live"]').waitFor({ timeout: 15_000 });
    await untilShown(pb, [], "bob in the other conversation");
    await run(pb, `p.switchTo(${JSON.stringify(conv)});`);
    await pb.locator('#chat[data-state="live"]').waitFor({ timeout: 15_000 });
    await untilShown(pb, ["zero", "one", "two, edited", ""], "bob back");

    // Unmounting the conversation releases its socket (the inbox stays); Alice sees Bob leave.
    expect(await run(pb, `return p.openSockets("/parties/conversation/");`)).toBe(1);
    await run(pb, "p.showChat(false);");
    await until("bob's conversation socket is closed", async () => {
      const n = await run<number>(pb, `return p.openSockets("/parties/conversation/");`);
      return { ok: n === 0, seen: n };
    });
    expect(await run(pb, `return p.openSockets("/parties/inbox/");`)).toBe(1);
    await until("alice sees bob go offline", async () => ({
      ok: (await text(pa, "#presence")) === alice,
      seen: await text(pa, "#presence"),
    }));
    // Mounted again: the same conversation, from its history.
    await run(pb, "p.showChat(true);");
    await pb.locator('#chat[data-state="live"]').waitFor({ timeout: 15_000 });
    await untilShown(pb, ["zero", "one", "two, edited", ""], "bob again");
    // Unmounting the provider closes the client it created: no socket stays.
    await run(pb, "p.unmount();");
    await until("bob has no socket open", async () => {
      const n = await run<number>(pb, `return p.openSockets("/parties/");`);
      return { ok: n === 0, seen: n };
    });
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it("loads the latest page, then older pages on loadEarlier(), then live ones after them", async () => {
    const carol = uid("carol");
    const conv = await w.conversation([carol]);
    const api = await w.as(carol);
    for (const body of ["a", "b", "c", "d", "e"]) await send(api, conv, uid("m"), body);
    const page = await open(carol, conv, { pageSize: "2" });
    await untilShown(page, ["d", "e"], "carol");
    expect(await page.locator("#more").getAttribute("data-more")).toBe("true");
    await run(page, "await p.chat.loadEarlier();");
    await untilShown(page, ["b", "c", "d", "e"], "carol");
    await run(page, "await p.chat.loadEarlier();");
    await untilShown(page, ["a", "b", "c", "d", "e"], "carol");
    await until("no more pages", async () => ({
      ok: (await page.locator("#more").getAttribute("data-more")) === "false",
      seen: await page.locator("#more").getAttribute("data-more"),
    }));
    await send(api, conv, uid("m"), "f");
    await untilShown(page, ["a", "b", "c", "d", "e", "f"], "carol");
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
