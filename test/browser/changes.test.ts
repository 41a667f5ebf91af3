/**
 * Messages that change, in `<parley-chat>` between two users in Chromium: edit in place, delete
 * with a confirmation, reactions from the actions menu and by their chips, replies with a quote
 * that jumps to the original; by mouse and by keyboard; what a refused change shows. Screenshots
 * land in test-artifacts/browser/.
 */
import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { history, uid, useServer } from "../helpers/world.ts";
import { haveChromium, sendText, until, untilShown, useBrowser } from "./browser.ts";

/** The row of the stored message whose body is `text`. */
const row = (page: Page, text: string): Locator =>
  page.locator("parley-chat li.msg:not([data-status])", { has: page.locator(".body", { hasText: text }) });

/** The chip of reaction `key` under `li`, by its shown text ("👍 2"). */
const chip = (li: Locator, key: string): Locator => li.locator(`button.chip[data-act="+${key}"]`);

/** The id-less focused element inside the widget, described. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.querySelector("parley-chat")?.shadowRoot?.activeElement as HTMLElement | null;
    const seq = (el?.closest("li") as HTMLElement | null)?.dataset.seq ?? "";
    return el
      ? `${el.tagName.toLowerCase()}.${el.className}|${el.dataset.act ?? ""}|${el.textContent}|${seq}`
      : "";
  });

/** Presses `key` until the focused element matches `what` (bounded). */
async function pressUntil(page: Page, key: string, what: RegExp, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (what.test(await focused(page))) return;
    await page.keyboard.press(key);
  }
  throw new Error(`${key}: never reached ${what} (at ${await focused(page)})`);
}

/** Everything the widget's shadow root shows as text (to check a deleted text is gone). */
const widgetText = (page: Page) =>
  page.evaluate(() => document.querySelector("parley-chat")?.shadowRoot?.textContent ?? "");

describe.skipIf(!haveChromium)("<parley-chat>: messages that change", () => {
  const w = useServer({ env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" } });
  const b = useBrowser(() => w.server.url);

  it("by mouse: edit in place, react and toggle by chips, reply and jump, delete after a confirmation", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "Changes" });
    const [pa, pb] = await Promise.all([b.open(alice, conv), b.open(bob, conv)]);
    await sendText(pa, "helo wrld");
    await untilShown(pb, ["helo wrld"], 10_000, "bob");

    // Alice edits her message in place: the menu, Edit, the editor, Save.
    const mine = row(pa, "helo wrld");
    await mine.hover();
    await mine.locator("button.more").click();
    const menu = pa.locator("parley-chat .menu[role=group]");
    expect(await menu.getAttribute("aria-label")).toBe("Message actions");
    expect(await mine.locator("button.more").getAttribute("aria-expanded")).toBe("true");
    await menu.locator("button", { hasText: "Edit" }).click();
    const editor = pa.locator("parley-chat textarea.edit");
    expect(await editor.inputValue()).toBe("helo wrld");
    expect(await editor.getAttribute("aria-label")).toBe("Edit message");
    await editor.fill("hello world");
    await pa.locator("parley-chat .menu button", { hasText: "Save" }).click();
    await untilShown(pb, ["hello world"], 10_000, "bob sees the edit");
    await untilShown(pa, ["hello world"], 10_000, "alice");
    await row(pb, "hello world").locator(".edited", { hasText: "edited" }).waitFor();
    await b.shot(pb, "changes-edited-bob");

    // Bob reacts from the menu; both see the chip; Alice adds hers by the chip; Bob takes his back.
    const theirs = row(pb, "hello world");
    await theirs.hover();
    await theirs.locator("button.more").click();
    await pb.locator('parley-chat .menu button[aria-label="React with 👍"]').click();
    await chip(theirs, "👍").filter({ hasText: "👍 1" }).waitFor();
    expect(await chip(theirs, "👍").getAttribute("aria-pressed")).toBe("true");
    const aliceRow = row(pa, "hello world");
    await chip(aliceRow, "👍").filter({ hasText: "👍 1" }).waitFor();
    expect(await chip(aliceRow, "👍").getAttribute("aria-pressed")).toBe("false");
    await chip(aliceRow, "👍").click();
    await chip(theirs, "👍").filter({ hasText: "👍 2" }).waitFor();
    expect(await chip(aliceRow, "👍").getAttribute("aria-pressed")).toBe("true");
    await b.shot(pa, "changes-reactions-alice");
    await chip(theirs, "👍").click();
    await chip(aliceRow, "👍").filter({ hasText: "👍 1" }).waitFor();
    expect(await chip(theirs, "👍").getAttribute("aria-pressed")).toBe("false");

    // Bob replies: a quoted preview over the composer, then the reply quotes the original.
    await theirs.hover();
    await theirs.locator("button.more").click();
    await pb.locator("parley-chat .menu button", { hasText: "Reply" }).click();
    const replying = pb.locator("parley-chat .replying");
    await replying.waitFor();
    expect(await replying.textContent()).toContain(`Replying to ${alice}: hello world`);
    expect(await replying.locator("button").getAttribute("aria-label")).toBe("Cancel reply");
    await b.shot(pb, "changes-replying-bob");
    await sendText(pb, "sure, on it");
    await untilShown(pa, ["hello world", "sure, on it"], 10_000, "alice sees the reply");
    expect(await replying.isVisible()).toBe(false);
    // Replying to your own message names you as the rest of the widget does: "You".
    const own = pb.locator("parley-chat li.msg", { hasText: "sure, on it" });
    await own.hover();
    await own.locator("button.more").click();
    await pb.locator("parley-chat .menu button", { hasText: "Reply" }).click();
    await replying.waitFor();
    expect(await replying.textContent()).toContain("Replying to You: sure, on it");
    await replying.locator("button").click();
    await replying.waitFor({ state: "hidden" });
    const quote = row(pa, "sure, on it").locator("button.quote");
    expect(await quote.textContent()).toBe(`${alice}: hello world`);
    expect(await quote.getAttribute("aria-label")).toBe(`In reply to ${alice}: hello world`);
    await quote.click();
    await until("the original is focused", async () => ({
      ok: (await aliceRow.evaluate((li) => li.classList.contains("hl") && li.matches(":focus"))) === true,
      seen: await focused(pa),
    }));
    await b.shot(pa, "changes-reply-jump-alice");

    // Alice deletes her message: Delete asks first; Cancel keeps it, Delete deletes it.
    await aliceRow.hover();
    await aliceRow.locator("button.more").click();
    await pa.locator("parley-chat .menu button", { hasText: "Delete" }).click();
    await pa.locator("parley-chat .menu", { hasText: "Delete this message for everyone?" }).waitFor();
    await pa.locator("parley-chat .menu button", { hasText: "Cancel" }).click();
    expect(await pa.locator("parley-chat .menu").count()).toBe(0);
    await aliceRow.locator("button.more").click();
    await pa.locator("parley-chat .menu button", { hasText: "Delete" }).click();
    await b.shot(pa, "changes-delete-confirm-alice");
    await pa.locator("parley-chat .menu button", { hasText: "Delete" }).click();
    for (const page of [pa, pb]) {
      await untilShown(page, ["This message was deleted.", "sure, on it"], 10_000, "deleted");
      // The text is gone from the widget: the bubble and the reply's quote say it was deleted.
      expect(await widgetText(page)).not.toContain("hello world");
      expect(await row(page, "sure, on it").locator("button.quote").textContent()).toBe(
        `${alice}: This message was deleted.`,
      );
      expect(await page.locator("parley-chat li.msg .body.deleted").count()).toBe(1);
    }
    await b.shot(pb, "changes-deleted-bob");
    const stored = await history(await w.as(alice), conv);
    expect(stored.map((m) => [m.body, m.deleted ?? false])).toEqual([
      ["", true],
      ["sure, on it", false],
    ]);
  });

  it("by keyboard: Up edits my last message (Esc cancels), the actions menu, reactions, reply and delete", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "Keyboard" });
    const [pa, pb] = await Promise.all([b.open(alice, conv), b.open(bob, conv)]);
    const input = pa.locator("parley-chat textarea:not(.edit)");
    await sendText(pa, "first draft");
    await untilShown(pb, ["first draft"], 10_000, "bob");

    // Up in the empty composer: the last message of mine, in an editor; Esc cancels.
    await input.focus();
    await pa.keyboard.press("ArrowUp");
    expect(await focused(pa)).toMatch(/^textarea\.edit\|/);
    await pa.keyboard.press("Escape");
    expect(await focused(pa)).toMatch(/^textarea\.\|/);
    expect(await pa.locator("parley-chat textarea.edit").count()).toBe(0);
    // Up again, change it, Enter saves.
    await pa.keyboard.press("ArrowUp");
    await pa.keyboard.press("ControlOrMeta+a");
    await pa.keyboard.type("final draft");
    await pa.keyboard.press("Enter");
    await untilShown(pb, ["final draft"], 10_000, "bob sees the edit");
    await row(pb, "final draft").locator(".edited").waitFor();
    expect(await focused(pa)).toMatch(/^textarea\.\|/);

    // Bob, from his composer: Shift+Tab to the message's actions, Enter opens them.
    await pb.locator("parley-chat textarea").focus();
    await pressUntil(pb, "Shift+Tab", /^button\.more\|more\|/);
    await pb.keyboard.press("Enter");
    expect(await focused(pb)).toMatch(/\|\+👍\|/);
    // Tab moves through the menu; Enter on ❤️ reacts and gives the focus back to the button.
    await pressUntil(pb, "Tab", /\|\+❤️\|/, 4);
    await pb.keyboard.press("Enter");
    await chip(row(pa, "final draft"), "❤️").filter({ hasText: "❤️ 1" }).waitFor();
    expect(await focused(pb)).toMatch(/^button\.more\|/);
    // The chip toggles from the keyboard too (and keeps the focus).
    await pressUntil(pb, "Tab", /^button\.chip\|\+❤️\|/, 3);
    await pb.keyboard.press("Space");
    await until(
      "the reaction is taken back",
      async () => (await row(pa, "final draft").locator(".chip").count()) === 0,
    );
    // Reply: open the menu, Tab to Reply, Enter; Esc in the composer cancels it, then again for real.
    await pb.locator("parley-chat textarea").focus();
    await pressUntil(pb, "Shift+Tab", /^button\.more\|more\|/);
    await pb.keyboard.press("Enter");
    await pressUntil(pb, "Tab", /\|reply\|/, 10);
    await pb.keyboard.press("Enter");
    expect(await focused(pb)).toMatch(/^textarea\.\|/);
    expect(await pb.locator("parley-chat .replying").isVisible()).toBe(true);
    await pb.keyboard.press("Escape");
    expect(await pb.locator("parley-chat .replying").isVisible()).toBe(false);
    await pressUntil(pb, "Shift+Tab", /^button\.more\|more\|/);
    await pb.keyboard.press("Enter");
    await pressUntil(pb, "Tab", /\|reply\|/, 10);
    await pb.keyboard.press("Enter");
    await pb.keyboard.type("agreed");
    await pb.keyboard.press("Enter");
    await untilShown(pa, ["final draft", "agreed"], 10_000, "alice sees the reply");
    expect(await row(pa, "agreed").locator("button.quote").textContent()).toBe(`${alice}: final draft`);
    await b.shot(pb, "changes-keyboard-bob");
    // Bob's menu has no Edit or Delete for Alice's message (seq 1; his reply is 3).
    await pb.locator("parley-chat textarea").focus();
    await pressUntil(pb, "Shift+Tab", /^button\.more\|more\|.*\|1$/);
    await pb.keyboard.press("Enter");
    const bobsMenu = await pb.locator("parley-chat .menu button").allTextContents();
    expect(bobsMenu).not.toContain("Edit");
    expect(bobsMenu).not.toContain("Delete");
    await pb.keyboard.press("Escape");
    expect(await pb.locator("parley-chat .menu").count()).toBe(0);
    expect(await focused(pb)).toMatch(/^button\.more\|/);

    // Alice deletes by keyboard: Shift+Tab to her message's actions, Tab to Delete, Enter twice.
    await input.focus();
    await pressUntil(pa, "Shift+Tab", /^button\.more\|more\|.*\|1$/);
    await pa.keyboard.press("Enter");
    await pressUntil(pa, "Tab", /\|delete\|/, 10);
    await pa.keyboard.press("Enter");
    expect(await focused(pa)).toMatch(/\|del\|Delete\|1$/);
    await pa.keyboard.press("Enter");
    await untilShown(pb, ["This message was deleted.", "agreed"], 10_000, "bob sees the deletion");
    expect(await widgetText(pb)).not.toContain("final draft");
    expect(await focused(pa)).toMatch(/^textarea\.\|/);
    await b.shot(pa, "changes-keyboard-alice");
  });

  it("a refused change is undone and says why (a reaction over the relay's cap)", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    const pb = await b.open(bob, conv);
    await sendText(pb, "react to me");
    await untilShown(pb, ["react to me"], 10_000, "bob");
    await pb.context().route("**/reactions/**", (route) =>
      route.fulfill({
        status: 409,
        contentType: "application/json",
        body: JSON.stringify({ error: { code: "conflict", message: "too many reaction keys" } }),
      }),
    );
    const li = row(pb, "react to me");
    await li.hover();
    await li.locator("button.more").click();
    await pb.locator('parley-chat .menu button[aria-label="React with 🎉"]').click();
    await li.locator(".status", { hasText: "This message cannot take more reactions." }).waitFor();
    expect(await li.locator(".chip").count()).toBe(0);
    const announced = await pb.locator("parley-chat [aria-live=polite]:not([role])").textContent();
    expect(announced).toContain("This message cannot take more reactions.");
    await b.shot(pb, "changes-refused");
    await pb.context().unroute("**/reactions/**");
  });
});
