/**
 * `<parley-chat>` on the edge runtimes, Cloudflare Workers (`npm run dev:workers`: wrangler dev)
 * and PartyKit (`npm run dev:edge`: partykit dev), both on local workerd with sqld: the Worker
 * or main party serves `/widget.js` (built by `npm run build:widget`, their `build.command`,
 * and imported as text) and `/demo`, and two users chat through it.
 */
import { request } from "node:http";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { history, uid, useServer } from "../helpers/world.ts";
import { haveChromium, sendText, until, untilShown, untilTitle, useBrowser, waitLive } from "./browser.ts";

/** The raw bytes and headers of a GET (Node's fetch would decompress for us). */
function rawGet(url: string, headers: Record<string, string>) {
  return new Promise<{ headers: Record<string, unknown>; body: Buffer; status: number }>(
    (resolve, reject) => {
      const req = request(url, { headers, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ headers: res.headers, body: Buffer.concat(chunks), status: res.statusCode ?? 0 }),
        );
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
      req.on("error", reject);
      req.end();
    },
  );
}

const RUNTIMES = [
  ["workers", "Cloudflare Workers (dev:workers)"],
  ["partykit", "PartyKit (dev:edge)"],
] as const;

describe.skipIf(!haveChromium).each(RUNTIMES)("<parley-chat> on %s", (runtime, name) => {
  const w = useServer({ runtime });
  const b = useBrowser(() => w.server.url);

  it("serves /widget.js: the bundle, gzipped once", async () => {
    const res = await rawGet(`${w.server.url}/widget.js`, { "Accept-Encoding": "gzip" });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(res.headers["content-encoding"]).toBe("gzip");
    const code = gunzipSync(res.body);
    // Once: what comes out of one gunzip is the script, not gzip again (1f 8b).
    expect(code[0] === 0x1f && code[1] === 0x8b).toBe(false);
    expect(code.toString("utf8")).toContain("parley-chat");
    const again = await fetch(`${w.server.url}/widget.js`, {
      headers: { "If-None-Match": String(res.headers.etag) },
    });
    expect(again.status).toBe(304);
  });

  it(`two users chat: messages, typing and seen cross ${name}`, async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "On the edge" });
    const [pa, pb] = await Promise.all([b.open(alice, conv), b.open(bob, conv)]);
    await untilTitle(pa, "On the edge");
    await pa.locator("parley-chat textarea").pressSequentially("Hello from", { delay: 10 });
    await pb.locator("parley-chat .typing", { hasText: `${alice} is typing…` }).waitFor();
    await pa.locator("parley-chat textarea").pressSequentially(" workerd");
    await pa.locator("parley-chat textarea").press("Enter");
    await untilShown(pb, ["Hello from workerd"], 10_000, "bob");
    await sendText(pb, "Hi Alice, the edge answers");
    await untilShown(pa, ["Hello from workerd", "Hi Alice, the edge answers"], 10_000, "alice");
    await pa.locator("parley-chat li.msg.mine .seen", { hasText: `Seen by ${bob}` }).waitFor();
    const stored = await history(await w.as(alice), conv);
    expect(stored.map((m) => m.body)).toEqual(["Hello from workerd", "Hi Alice, the edge answers"]);
    await Promise.all([b.shot(pa, `${runtime}-chat-alice`), b.shot(pb, `${runtime}-chat-bob`)]);
  });

  it("the dev demo shows two users side by side who can chat", async () => {
    const context = await b.context();
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`${w.server.url}/demo`);
    const frames = () => page.frames().filter((f) => f !== page.mainFrame());
    await until("two frames", async () => frames().length === 2);
    for (const f of frames()) await waitLive(f, 20_000);
    const [alice, bob] = ["Alice's chat", "Bob's chat"].map((title) =>
      page.frameLocator(`iframe[title="${title}"]`),
    ) as [ReturnType<typeof page.frameLocator>, ReturnType<typeof page.frameLocator>];
    await bob.locator("parley-chat li.msg .body", { hasText: "This is Parley" }).first().waitFor();
    const text = "Hello from the edge demo.";
    await alice.locator("parley-chat textarea").fill(text);
    await alice.locator("parley-chat textarea").press("Enter");
    await bob.locator("parley-chat li.msg .body", { hasText: text }).waitFor();
    await b.shot(page, `${runtime}-demo`);
  });
});
