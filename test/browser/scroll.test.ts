/**
 * Scroll and time in `<parley-chat>`, against the real relay: the view opens exactly at the
 * bottom (the last bubble and its "Seen by" in full), keeps the reader's place while older
 * pages load, raises a "new messages" pill instead of moving a reader who scrolled up, shows a
 * refused message that is too large in plain words with Edit (never Retry), and breaks
 * timestamps every few minutes and by day in the reader's locale.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { uid, useServer, type World } from "../helpers/world.ts";
import { haveChromium, sendText, until, untilShown, useBrowser } from "./browser.ts";
import { seedHistory } from "./seed.ts";

/** Pixels between the bottom of the message view and the end of its content. */
const gapBelow = (page: Page) =>
  page.locator("parley-chat .scroller").evaluate((s) => s.scrollHeight - s.scrollTop - s.clientHeight);

/** Where an element of the widget sits, relative to the message view's top (px). */
const offsetIn = (page: Page, selector: string) =>
  page.locator(`parley-chat ${selector}`).evaluate((el) => {
    const scroller = el.closest(".scroller") as HTMLElement;
    const a = el.getBoundingClientRect();
    const b = scroller.getBoundingClientRect();
    return { top: a.top - b.top, bottom: a.bottom - b.bottom };
  });

async function post(w: World, conv: string, senderId: string, count: number, prefix: string): Promise<void> {
  for (let i = 1; i <= count; i++) {
    const res = await w.admin.post(`/v1/conversations/${conv}/messages`, {
      senderId,
      clientMessageId: uid("k"),
      body: `${prefix} ${i}`,
    });
    expect(res.status, res.text).toBe(201);
  }
}

describe.skipIf(!haveChromium)("<parley-chat> scroll and time", () => {
  // The tests post long histories quickly.
  const w = useServer({ env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" } });
  const b = useBrowser(() => w.server.url);

  it("opens exactly at the bottom: the last bubble and its 'Seen by' are not clipped", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    await post(w, conv, bob, 20, "from bob");
    await post(w, conv, alice, 3, "from alice");
    const bobs = await w.as(bob);
    expect((await bobs.post(`/v1/conversations/${conv}/read`, { seq: 23 })).status).toBeLessThan(300);
    const pa = await b.open(alice, conv);
    await pa.locator("parley-chat li.msg.mine .seen", { hasText: `Seen by ${bob}` }).waitFor();
    await until("the view is at the very bottom", async () => {
      const gap = await gapBelow(pa);
      return { ok: gap <= 1, seen: gap };
    });
    const seen = await offsetIn(pa, "li.msg.mine .seen");
    expect(seen.bottom).toBeLessThanOrEqual(0);
    await b.shot(pa, "scroll-opens-at-bottom");
  });

  it("stays at the bottom when the content grows between its own jump and that jump's scroll event", async () => {
    // What a late "Seen by" did in CI: the view pinned itself to the end, the content grew
    // before the scroll event of that jump was dispatched, and the event, finding a gap, was
    // read as the reader leaving the bottom, so the view stayed short of the end for good.
    // Made to happen here on purpose: 40 px more, and right after the widget's resize callback
    // has pinned the view, 40 px more again in a task of its own.
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    await post(w, conv, bob, 30, "from bob");
    const pa = await b.open(alice, conv);
    await pa.locator("parley-chat li.msg", { hasText: "from bob 30" }).waitFor();
    await until("the view is at the very bottom", async () => {
      const gap = await gapBelow(pa);
      return { ok: gap <= 1, seen: gap };
    });
    await pa.locator("parley-chat .scroller").evaluate(async (s) => {
      const list = s.querySelector("ol.messages") as HTMLElement;
      const grow = () => {
        const li = document.createElement("li");
        li.style.height = "40px";
        list.append(li);
      };
      const grownAfterPin = new Promise<void>((resolve) =>
        new ResizeObserver((_, observer) => {
          observer.disconnect();
          setTimeout(() => {
            grow();
            resolve();
          }, 0);
        }).observe(list),
      );
      grow();
      await grownAfterPin;
    });
    await until("the view is back at the very bottom", async () => {
      const gap = await gapBelow(pa);
      return { ok: gap <= 1, seen: gap };
    });
  });

  it("keeps the reader's place while older pages load, and raises a pill for new messages instead of moving", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    await post(w, conv, bob, 70, "older");
    const pa = await b.open(alice, conv);
    // The latest page is seqs 31..70; going to the top loads 1..30 above them.
    const before = await pa.locator("parley-chat .scroller").evaluate((el) => {
      el.scrollTop = 0;
      const first = el.querySelector('li.msg[data-seq="31"]') as HTMLElement;
      return first.getBoundingClientRect().top - el.getBoundingClientRect().top;
    });
    await pa.locator('parley-chat li.msg[data-seq="1"]').waitFor({ state: "attached" });
    const after = await offsetIn(pa, 'li.msg[data-seq="31"]');
    expect(Math.abs(after.top - before)).toBeLessThanOrEqual(2);

    // The reader is far up: a new message does not move them, a pill says it is there.
    const position = () => pa.locator("parley-chat .scroller").evaluate((el) => el.scrollTop);
    const at = await position();
    await post(w, conv, bob, 1, "while you read");
    await pa
      .locator("parley-chat li.msg .body", { hasText: "while you read 1" })
      .waitFor({ state: "attached" });
    const pill = pa.locator("parley-chat button.pill");
    await pill.filter({ hasText: "New messages" }).waitFor();
    expect(Math.abs((await position()) - at)).toBeLessThanOrEqual(1);
    // Not read while out of sight: Alice's unread count stays.
    const alices = await w.as(alice);
    const unread = async () =>
      (
        (await alices.get("/v1/conversations")).json.conversations as Array<{ id: string; unread: number }>
      ).find((c) => c.id === conv)?.unread;
    expect(await unread()).toBe(1);
    await b.shot(pa, "scroll-new-messages-pill");
    await pill.click();
    await pill.waitFor({ state: "hidden" });
    await until("at the bottom", async () => {
      const gap = await gapBelow(pa);
      return { ok: gap <= 1, seen: gap };
    });
    await until("read once seen", async () => {
      const n = await unread();
      return { ok: n === 0, seen: n };
    });
  });

  it("timestamps break every few minutes and by day (Today, Yesterday, a date) in the reader's locale", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    const day = (daysAgo: number, h: number, m: number) => {
      const d = new Date();
      d.setUTCDate(d.getUTCDate() - daysAgo);
      d.setUTCHours(h, m, 0, 0);
      return d;
    };
    const seeds = [
      { senderId: bob, body: "three days ago", createdAt: day(3, 9, 0) },
      { senderId: alice, body: "three days ago, reply", createdAt: day(3, 9, 2) },
      { senderId: bob, body: "yesterday", createdAt: day(1, 15, 0) },
      { senderId: bob, body: "yesterday, later", createdAt: day(1, 15, 1) },
      // One sender, one message a minute for 13 minutes: the time shows again every 5 minutes.
      ...Array.from({ length: 13 }, (_, i) => ({
        senderId: bob,
        body: `run ${i}`,
        createdAt: day(0, 10, i),
      })),
    ];
    await seedHistory(w, conv, seeds);
    const strings = JSON.stringify({ today: "Heute", yesterday: "Gestern" });
    const pa = await b.page(alice, conv, { lang: "de-DE", strings }, { timezoneId: "UTC", locale: "de-DE" });
    await untilShown(
      pa,
      seeds.map((s) => s.body),
      15_000,
      "alice",
    );
    const days = await pa.locator("parley-chat li.day").allTextContents();
    const date = new Intl.DateTimeFormat("de-DE", {
      weekday: "long",
      month: "long",
      day: "numeric",
      timeZone: "UTC",
      ...(day(3, 9, 0).getUTCFullYear() !== new Date().getUTCFullYear() ? { year: "numeric" } : {}),
    }).format(day(3, 9, 0));
    expect(days).toEqual([date, "Gestern", "Heute"]);
    // In the run, the sender and time show at 10:00, 10:05 and 10:10 only.
    const heads = await pa.locator("parley-chat li.msg").evaluateAll((lis) =>
      lis
        .filter((li) => li.querySelector(".body")?.textContent?.startsWith("run "))
        .filter((li) => !li.classList.contains("cont"))
        .map((li) => li.querySelector("time")?.textContent),
    );
    expect(heads).toEqual(["10:00", "10:05", "10:10"]);
    await b.shot(pa, "timestamps-and-days");
  });
});

describe.skipIf(!haveChromium)("<parley-chat> a message too large for the relay", () => {
  const w = useServer({ env: { PARLEY_MAX_MESSAGE_BYTES: "2000" } });
  const b = useBrowser(() => w.server.url);

  it("says so in plain words, offers Edit (not Retry), and is scrolled into view though taller than it", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    const pa = await b.open(alice, conv);
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
    await sendText(pa, long);
    const failed = pa.locator('parley-chat li.msg[data-status="failed"]');
    const status = failed.locator(".status");
    await status
      .filter({ hasText: "This message is too long to send. Shorten it and send it again." })
      .waitFor();
    expect(await status.textContent()).not.toMatch(/bytes|UTF-8/);
    expect(await failed.locator("button.retry").count()).toBe(0);
    // Taller than the view, and its status with the actions is in sight.
    const [tall, view] = await Promise.all([
      failed.evaluate((el) => el.getBoundingClientRect().height),
      pa.locator("parley-chat .scroller").evaluate((el) => el.clientHeight),
    ]);
    expect(tall).toBeGreaterThan(view);
    const where = await offsetIn(pa, 'li.msg[data-status="failed"] .status');
    expect(where.bottom).toBeLessThanOrEqual(0);
    expect(where.top).toBeGreaterThanOrEqual(0);
    await b.shot(pa, "failed-too-large");
    // Edit puts the text back in the composer.
    await failed.locator("button.edit").click();
    await failed.waitFor({ state: "detached" });
    expect(await pa.locator("parley-chat textarea").inputValue()).toBe(long);
  });
});
