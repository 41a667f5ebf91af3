/**
 * `<parley-chat>` in a real browser (Debian's Chromium through playwright-core) against the real
 * relay: two users chat, typing and seen, unread badges, a SIGKILLed relay, a reload with a
 * pending message, a refused send and its retry, HTML shown as text, and the dev demo page.
 */
import { copyFile, rm } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openStore } from "../../store/open.ts";
import { repoRoot } from "../helpers/server.ts";
import { history, uid, useServer } from "../helpers/world.ts";
import { haveChromium, sendText, until, untilShown, untilTitle, useBrowser, waitLive } from "./browser.ts";

describe.skipIf(!haveChromium)("<parley-chat> in Chromium", () => {
  const w = useServer();
  const b = useBrowser(() => w.server.url);

  it("two users chat: Enter sends, Shift+Enter is a new line, typing and seen show, HTML stays text", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "Two browsers" });
    const [pa, pb] = await Promise.all([b.open(alice, conv), b.open(bob, conv)]);

    // Typing shows on the other side.
    const input = pa.locator("parley-chat textarea");
    await input.pressSequentially("Hello", { delay: 10 });
    await pb.locator("parley-chat .typing", { hasText: `${alice} is typing…` }).waitFor();
    // Shift+Enter is a new line, Enter sends.
    await input.press("Shift+Enter");
    await input.pressSequentially("second line");
    await input.press("Enter");
    expect(await input.inputValue()).toBe("");
    await untilShown(pb, ["Hello\nsecond line"], 10_000, "bob");
    await untilShown(pa, ["Hello\nsecond line"], 10_000, "alice");
    // Sending clears the indicator.
    await until("typing cleared", async () => (await pb.locator("parley-chat .typing").textContent()) === "");

    // Bob's page is visible, so he has read it: Alice sees "Seen by bob".
    await pa.locator("parley-chat li.msg.mine .seen", { hasText: `Seen by ${bob}` }).waitFor();

    // HTML in a message is shown literally and never runs.
    const hostile = `<img src=x onerror="window.__pwned=1"><b>bold</b> & <script>window.__pwned=2</script>`;
    await sendText(pb, hostile);
    await untilShown(pa, ["Hello\nsecond line", hostile], 10_000, "alice");
    await untilShown(pb, ["Hello\nsecond line", hostile], 10_000, "bob");
    for (const page of [pa, pb]) {
      expect(
        await page.locator("parley-chat li.msg img, parley-chat li.msg b, parley-chat li.msg script").count(),
      ).toBe(0);
      expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    }
    // The new message is announced to screen readers on Alice's side.
    const announced = await pa.locator("parley-chat [aria-live=polite]:not([role])").textContent();
    expect(announced).toContain(`${bob}: ${hostile}`);

    const stored = await history(await w.as(alice), conv);
    expect(stored.map((m) => m.body)).toEqual(["Hello\nsecond line", hostile]);
    await Promise.all([b.shot(pa, "chat-alice"), b.shot(pb, "chat-bob")]);
  });

  it("unread badges count messages in other threads and clear when the thread is opened", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const general = await w.conversation([alice, bob], { title: "General" });
    const other = await w.conversation([alice, bob], { title: "Other" });
    const pa = await b.open(alice, general);
    const pb = await b.open(bob, other);
    const badge = pa.locator(`parley-chat button.thread[data-id="${other}"] .badge`);
    await sendText(pb, "one");
    await badge.filter({ hasText: /^1$/ }).waitFor();
    await sendText(pb, "two");
    await badge.filter({ hasText: /^2$/ }).waitFor();
    expect(await pa.locator(`parley-chat button.thread[data-id="${other}"]`).textContent()).toContain(
      "2 unread",
    );
    // The open thread has no badge.
    expect(await pa.locator(`parley-chat button.thread[data-id="${general}"] .badge`).count()).toBe(0);
    await b.shot(pa, "unread-badge");

    // Opening the thread shows its messages, marks them read and clears the badge.
    await pa.locator(`parley-chat button.thread[data-id="${other}"]`).click();
    await untilShown(pa, ["one", "two"], 10_000, "alice");
    await badge.waitFor({ state: "detached" });
    const alicesApi = await w.as(alice);
    await until("the relay has alice's read position", async () => {
      const res = await alicesApi.get("/v1/conversations");
      const row = (res.json.conversations as Array<{ id: string; unread: number }>).find(
        (c) => c.id === other,
      );
      return { ok: row?.unread === 0, seen: row };
    });
    // Bob is in that conversation now: his presence dot shows.
    await pa.locator(`parley-chat button.thread[data-id="${other}"] .dot`).waitFor();
    expect(await pa.locator("parley-chat header .presence").textContent()).toContain(bob);
    // The thread list is keyboard-navigable: arrows move between threads.
    await pa.locator(`parley-chat button.thread[data-id="${other}"]`).focus();
    await pa.keyboard.press("ArrowDown");
    expect(
      await pa.evaluate(() =>
        document.querySelector("parley-chat")?.shadowRoot?.activeElement?.getAttribute("data-id"),
      ),
    ).toBe(general);
  });

  it("the relay is SIGKILLed and restarted while one user sends: each message shows once, in order, for both", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    const [pa, pb] = await Promise.all([b.open(alice, conv), b.open(bob, conv)]);
    await sendText(pa, "before the crash");
    await untilShown(pb, ["before the crash"], 10_000, "bob");

    // One send leaves as the relay dies; one is made while it is down.
    await sendText(pa, "as it dies");
    await w.server.kill();
    await sendText(pa, "while it is down");
    await pa.locator('parley-chat li.msg[data-status="pending"]', { hasText: "while it is down" }).waitFor();
    await pa
      .locator('parley-chat .banner[data-state="reconnecting"], parley-chat .banner[data-state="offline"]')
      .waitFor();
    await b.shot(pa, "relay-down-alice");

    await w.server.restart();
    const all = ["before the crash", "as it dies", "while it is down"];
    await untilShown(pa, all, 20_000, "alice");
    await untilShown(pb, all, 20_000, "bob");
    expect(await pa.locator("parley-chat li.msg[data-status]").count()).toBe(0);
    const stored = await history(await w.as(alice), conv);
    expect(stored.map((m) => m.body)).toEqual(all);
    expect(stored.map((m) => m.seq)).toEqual([1, 2, 3]);
    // The banner said so: caught up (then it clears).
    await until("alice's banner caught up", async () => {
      const state = await pa.locator("parley-chat .banner").getAttribute("data-state");
      return { ok: state === "caught-up" || state === "live", seen: state };
    });
    // Still live afterwards: a new message crosses.
    await sendText(pb, "after the restart");
    await untilShown(pa, [...all, "after the restart"], 10_000, "alice");
  });

  it("the relay's database is wiped: the thread shows the new log, and new messages arrive", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    const pa = await b.open(alice, conv);
    const bobApi = await w.as(bob);
    for (const body of ["old one", "old two", "old three"]) {
      expect(
        (await bobApi.post(`/v1/conversations/${conv}/messages`, { clientMessageId: uid("k"), body })).status,
      ).toBe(201);
    }
    await untilShown(pa, ["old one", "old two", "old three"], 10_000, "alice");

    await w.server.kill();
    for (const suffix of ["", "-wal", "-shm"])
      await rm(path.join(w.server.dbDir, `parley.db${suffix}`), { force: true });
    // The back end recreates the conversation in the new database before the relay serves it
    // again. Recreating it over HTTP after the restart raced the widget's reconnect: a socket
    // that came in between was told 4004 (no such conversation), which stops the SDK for good.
    const fresh = await openStore({ url: `file:${path.join(w.server.dbDir, "parley.db")}`, sync: "full" });
    const now = new Date().toISOString();
    await fresh.createConversation(
      "default",
      { id: conv, title: null, lastSeq: 0, createdAt: now, lastActivityAt: now },
      [alice, bob],
    );
    await fresh.close();
    await w.server.restart();
    const afterWipe = await w.as(bob);
    expect(
      (
        await afterWipe.post(`/v1/conversations/${conv}/messages`, {
          clientMessageId: uid("k"),
          body: "new one",
        })
      ).status,
    ).toBe(201);
    await untilShown(pa, ["new one"], 20_000, "alice after the wipe");
    // seq 2 again, in the new log: shown, not taken for the old "old two".
    expect(
      (
        await afterWipe.post(`/v1/conversations/${conv}/messages`, {
          clientMessageId: uid("k"),
          body: "new two",
        })
      ).status,
    ).toBe(201);
    await untilShown(pa, ["new one", "new two"], 10_000, "alice");
  });

  it("a reload keeps pending messages (IndexedDB outbox) and sends each once", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    const pa = await b.open(alice, conv);
    const context = pa.context();
    // The first attempt reaches the relay (stored) but its answer is lost; later ones fail.
    let attempts = 0;
    const sends = `**/v1/conversations/${conv}/messages`;
    await context.route(sends, async (route) => {
      if (route.request().method() !== "POST") return route.fallback();
      attempts++;
      if (attempts === 1) await route.fetch();
      return route.abort("connectionreset");
    });
    const [stored, unsent] = ["stored, answer lost", "never left the browser"];
    await sendText(pa, stored);
    await sendText(pa, unsent);
    await pa.locator('parley-chat li.msg[data-status="pending"]', { hasText: unsent }).waitFor();
    await until("a retry of the first", async () => ({ ok: attempts >= 2, seen: attempts }));

    await pa.reload();
    await waitLive(pa);
    // The first is in the relay's history; the second only in IndexedDB, shown as pending.
    await untilShown(pa, [stored], 10_000, "alice after the reload");
    await pa.locator('parley-chat li.msg[data-status="pending"]', { hasText: unsent }).waitFor();
    expect(await pa.locator("parley-chat li.msg", { hasText: stored }).count()).toBe(1);
    const before = attempts;
    await until("retried after the reload", async () => ({ ok: attempts > before, seen: attempts }));
    await b.shot(pa, "pending-after-reload");

    await context.unroute(sends);
    await untilShown(pa, [stored, unsent], 10_000, "alice");
    expect(await pa.locator("parley-chat li.msg[data-status]").count()).toBe(0);
    const pb = await b.open(bob, conv);
    await untilShown(pb, [stored, unsent], 10_000, "bob");
    expect((await history(await w.as(alice), conv)).map((m) => m.body)).toEqual([stored, unsent]);
  });

  it("a refused send shows as failed with Retry, and Retry sends it", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    const pa = await b.open(alice, conv);
    const sends = `**/v1/conversations/${conv}/messages`;
    await pa.context().route(sends, (route) =>
      route.request().method() === "POST"
        ? route.fulfill({
            status: 403,
            contentType: "application/json",
            body: JSON.stringify({ error: { code: "forbidden", message: "not today" } }),
          })
        : route.fallback(),
    );
    await sendText(pa, "try me");
    const failed = pa.locator('parley-chat li.msg[data-status="failed"]', { hasText: "try me" });
    await failed.locator(".status", { hasText: "Not sent: not today" }).waitFor();
    await b.shot(pa, "failed-send");
    await pa.context().unroute(sends);
    await failed.locator("button.retry").click();
    await untilShown(pa, ["try me"], 10_000, "alice");
    expect(await pa.locator("parley-chat li.msg[data-status]").count()).toBe(0);
    expect((await history(await w.as(alice), conv)).map((m) => m.body)).toEqual(["try me"]);
  });

  it("scrolls back through the whole history, page by page (scroll and keyboard)", async () => {
    const [alice, bob, carol] = [uid("alice"), uid("bob"), uid("carol")];
    const conv = await w.conversation([alice, bob, carol]);
    const bodies: string[] = [];
    for (let i = 1; i <= 90; i++) {
      const senderId = [alice, bob, carol][i % 3] as string;
      bodies.push(`message ${i}`);
      const res = await w.admin.post(`/v1/conversations/${conv}/messages`, {
        senderId,
        clientMessageId: `m${i}`,
        body: `message ${i}`,
      });
      expect(res.status, res.text).toBe(201);
    }
    const pa = await b.open(alice, conv);
    await untilShown(pa, bodies.slice(50), 10_000, "the latest page");
    // Scrolling to the top loads the page before.
    await pa.locator("parley-chat .scroller").evaluate((el) => {
      el.scrollTop = 0;
    });
    await untilShown(pa, bodies.slice(10), 10_000, "two pages");
    // The reader keeps their place: the message that was first is still in view.
    const inView = await pa.locator('parley-chat li.msg[data-seq="51"]').evaluate((li) => {
      const scroller = li.closest(".scroller") as HTMLElement;
      const a = li.getBoundingClientRect();
      const b = scroller.getBoundingClientRect();
      return a.bottom > b.top && a.top < b.bottom;
    });
    expect(inView).toBe(true);
    // The button does the same from the keyboard.
    await pa.locator("parley-chat button.earlier").focus();
    await pa.keyboard.press("Enter");
    await untilShown(pa, bodies, 10_000, "everything");
    await pa.locator("parley-chat .top", { hasText: "This is the beginning of the conversation." }).waitFor();
  });

  it("takes a token attribute, translated strings, theme variables and no thread list", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "Attributs" });
    const token = await w.token(alice);
    const pa = await b.open(alice, conv, { token, "no-threads": "1" });
    await pa.evaluate(() => {
      const chat = document.querySelector("parley-chat") as HTMLElement & { strings: Record<string, string> };
      chat.strings = { send: "Envoyer", placeholder: "Écrire un message…", composer: "Message à envoyer" };
      chat.style.setProperty("--parley-accent", "rgb(10, 120, 60)");
    });
    const send = pa.locator("parley-chat button.send");
    expect(await send.textContent()).toBe("Envoyer");
    expect(await pa.locator("parley-chat textarea").getAttribute("aria-label")).toBe("Message à envoyer");
    expect(await send.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe("rgb(10, 120, 60)");
    expect(await pa.locator("parley-chat nav.threads").isVisible()).toBe(false);
    await sendText(pa, "Bonjour");
    await untilShown(pa, ["Bonjour"], 10_000, "alice");
    await untilTitle(pa, "Attributs");
    await b.shot(pa, "translated-themed");
  });

  it("narrow: the thread list is a drawer; offline shows in the banner and sends wait", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const first = await w.conversation([alice, bob], { title: "First" });
    const second = await w.conversation([alice, bob], { title: "Second" });
    const pa = await b.open(alice, first);
    await pa.setViewportSize({ width: 420, height: 560 });
    const nav = pa.locator("parley-chat nav.threads");
    const toggle = pa.locator("parley-chat button.toggle");
    await until("the list is hidden", async () => !(await nav.isVisible()));
    expect(await toggle.getAttribute("aria-expanded")).toBe("false");
    await toggle.click();
    expect(await nav.isVisible()).toBe(true);
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    await pa.locator(`parley-chat button.thread[data-id="${second}"]`).click();
    await until("the drawer closed", async () => !(await nav.isVisible()));
    expect(await pa.locator("parley-chat header h2").textContent()).toBe("Second");
    await waitLive(pa);

    await pa.context().setOffline(true);
    await pa.locator('parley-chat .banner[data-state="offline"]').waitFor();
    await sendText(pa, "written offline");
    await pa.locator('parley-chat li.msg[data-status="pending"]', { hasText: "written offline" }).waitFor();
    await b.shot(pa, "narrow-offline");
    await pa.context().setOffline(false);
    await untilShown(pa, ["written offline"], 10_000, "alice");
    await until("the banner clears", async () => {
      const state = await pa.locator("parley-chat .banner").getAttribute("data-state");
      return { ok: state === "live" || state === "caught-up", seen: state };
    });
    expect((await history(await w.as(alice), second)).map((m) => m.body)).toEqual(["written offline"]);
  });

  it("the dev demo shows two users side by side who can chat", async () => {
    const context = await b.context();
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`${w.server.url}/demo`);
    const [alice, bob] = ["Alice's chat", "Bob's chat"].map((title) =>
      page.frameLocator(`iframe[title="${title}"]`),
    ) as [ReturnType<typeof page.frameLocator>, ReturnType<typeof page.frameLocator>];
    const frames = () => page.frames().filter((f) => f !== page.mainFrame());
    await until("two frames", async () => frames().length === 2);
    for (const f of frames()) await waitLive(f);
    await alice.locator("parley-chat li.msg .body", { hasText: "This is Parley" }).first().waitFor();
    await bob.locator("parley-chat li.msg .body", { hasText: "This is Parley" }).first().waitFor();
    const text = "Nice, I can see your messages as you send them.";
    await alice.locator("parley-chat textarea").fill(text);
    await alice.locator("parley-chat textarea").press("Enter");
    await bob.locator("parley-chat li.msg .body", { hasText: text }).waitFor();
    await alice.locator("parley-chat .seen", { hasText: "Seen by bob" }).waitFor();
    // Bob starts typing: Alice sees it (the screenshot shows it too).
    await bob.locator("parley-chat textarea").pressSequentially("Looks great", { delay: 10 });
    await alice.locator("parley-chat .typing", { hasText: "bob is typing…" }).waitFor();
    const file = await b.shot(page, "demo");
    if (process.env.PARLEY_UPDATE_SCREENSHOT) await copyFile(file, path.join(repoRoot, "docs", "widget.png"));
  });
});
