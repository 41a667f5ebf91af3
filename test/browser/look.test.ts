/**
 * How `<parley-chat>` looks: a light and a dark theme (the system's by default, the `theme`
 * attribute overrides it, the host's CSS custom properties win over both), and right-to-left
 * text shown right to left.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { uid, useServer } from "../helpers/world.ts";
import { haveChromium, sendText, untilShown, useBrowser } from "./browser.ts";

const LIGHT_BG = "rgb(255, 255, 255)";
const DARK_BG = "rgb(22, 24, 29)";

const background = (page: Page) =>
  page.locator("parley-chat .root").evaluate((el) => getComputedStyle(el).backgroundColor);

describe.skipIf(!haveChromium)("<parley-chat> themes and text direction", () => {
  const w = useServer();
  const b = useBrowser(() => w.server.url);

  it("follows the system's colour scheme, the theme attribute overrides it, custom properties win", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "Themes" });
    const pb = await b.open(bob, conv);
    await sendText(pb, "Light or dark?");
    const pa = await b.open(alice, conv);
    await untilShown(pa, ["Light or dark?"], 10_000, "alice");
    await sendText(pa, "Both.");
    await untilShown(pa, ["Light or dark?", "Both."], 10_000, "alice");

    await pa.emulateMedia({ colorScheme: "light" });
    expect(await background(pa)).toBe(LIGHT_BG);
    await b.shot(pa, "theme-light");
    await pa.emulateMedia({ colorScheme: "dark" });
    expect(await background(pa)).toBe(DARK_BG);
    // Text stays readable on the dark background.
    expect(
      await pa
        .locator("parley-chat li.msg.theirs .body")
        .evaluate((el) => getComputedStyle(el).color !== getComputedStyle(el).backgroundColor),
    ).toBe(true);
    await b.shot(pa, "theme-dark");

    const chat = pa.locator("parley-chat");
    await chat.evaluate((el) => el.setAttribute("theme", "light"));
    expect(await background(pa)).toBe(LIGHT_BG);
    await pa.emulateMedia({ colorScheme: "light" });
    await chat.evaluate((el) => el.setAttribute("theme", "dark"));
    expect(await background(pa)).toBe(DARK_BG);
    await chat.evaluate((el) => el.setAttribute("theme", "auto"));
    expect(await background(pa)).toBe(LIGHT_BG);
    // The host's custom properties win over either theme.
    await chat.evaluate((el) => {
      el.setAttribute("theme", "dark");
      (el as HTMLElement).style.setProperty("--parley-bg", "rgb(1, 2, 3)");
    });
    expect(await background(pa)).toBe("rgb(1, 2, 3)");
  });

  it("shows right-to-left text right to left, and left-to-right text as before", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "שיחה" });
    const pa = await b.open(alice, conv);
    const [arabic, hebrew, english] = ["مرحبا، كيف حالك؟", "שלום, מה שלומך?", "Hello, how are you?"];
    for (const text of [arabic, hebrew, english]) await sendText(pa, text);
    await untilShown(pa, [arabic, hebrew, english], 10_000, "alice");
    const direction = (text: string) =>
      pa
        .locator("parley-chat li.msg .body", { hasText: text })
        .evaluate((el) => getComputedStyle(el).direction);
    expect(await direction(arabic)).toBe("rtl");
    expect(await direction(hebrew)).toBe("rtl");
    expect(await direction(english)).toBe("ltr");
    // The thread list's title and preview too. Each thread frame re-renders the row (new spans),
    // so the span is found and read in one step in the page: a span found first and read after a
    // re-render is detached, and a detached element has no computed direction ("").
    await pa.locator(`parley-chat button.thread[data-id="${conv}"] .ttitle`).waitFor();
    expect(
      await pa.locator("parley-chat").evaluate((el, id) => {
        const title = el.shadowRoot?.querySelector(`button.thread[data-id="${id}"] .ttitle`);
        return title ? getComputedStyle(title).direction : "no title";
      }, conv),
    ).toBe("rtl");
    // And the composer while one writes.
    const input = pa.locator("parley-chat textarea");
    await input.fill(arabic);
    expect(await input.evaluate((el) => getComputedStyle(el).direction)).toBe("rtl");
    await b.shot(pa, "rtl");
  });
});
