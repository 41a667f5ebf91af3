/**
 * An accessibility check of `<parley-chat>` with axe-core (injected into the page; it reads
 * open shadow roots) in Chromium: no serious or critical violation in the chat, the thread
 * list, messages that change (the actions menu, reaction chips, edited, deleted, a reply, the
 * editor, the delete confirmation), an empty state and an error state, in the light and the
 * dark theme.
 */
import { describe, expect, it } from "vitest";
import { uid, useServer } from "../helpers/world.ts";
import { violations } from "./axe.ts";
import { haveChromium, sendText, untilShown, useBrowser } from "./browser.ts";

describe.skipIf(!haveChromium)("<parley-chat> accessibility (axe-core)", () => {
  const w = useServer();
  const b = useBrowser(() => w.server.url);

  it("the chat and the thread list, light and dark: no serious or critical violation", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "Accessible" });
    await w.conversation([alice, bob], { title: "Another thread" });
    const pb = await b.open(bob, conv);
    await sendText(pb, "Hi Alice, can you read this?");
    const pa = await b.open(alice, conv);
    await untilShown(pa, ["Hi Alice, can you read this?"], 10_000, "alice");
    await sendText(pa, "Yes, and so can a screen reader.");
    await pa.locator("parley-chat li.msg.mine .seen").waitFor();
    for (const scheme of ["light", "dark"] as const) {
      await pa.emulateMedia({ colorScheme: scheme });
      expect(await violations(pa), `chat, ${scheme}`).toEqual([]);
    }
    // The thread list as a drawer on a narrow screen.
    await pa.emulateMedia({ colorScheme: "light" });
    await pa.setViewportSize({ width: 400, height: 560 });
    await pa.locator("parley-chat button.toggle").click();
    await pa.locator("parley-chat nav.threads").waitFor();
    expect(await violations(pa), "thread list drawer").toEqual([]);
  });

  it("messages that change: the actions menu, chips, edited, deleted, a reply, the editor and the confirmation", async () => {
    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob], { title: "Changes" });
    const pb = await b.open(bob, conv);
    await sendText(pb, "A message to react to");
    await sendText(pb, "A message to delete");
    const pa = await b.open(alice, conv);
    await untilShown(pa, ["A message to react to", "A message to delete"], 10_000, "alice");
    const api = await w.as(bob);
    const path = `/v1/conversations/${conv}/messages`;
    expect((await api.request("PATCH", `${path}/1`, { body: "A message to react to (edited)" })).status).toBe(
      200,
    );
    expect((await api.put(`${path}/1/reactions/${encodeURIComponent("👍")}`)).status).toBe(200);
    expect((await api.del(`${path}/2`)).status).toBe(200);
    expect((await api.post(path, { clientMessageId: "r", body: "A reply", replyTo: 1 })).status).toBe(201);
    await untilShown(
      pa,
      ["A message to react to (edited)", "This message was deleted.", "A reply"],
      10_000,
      "alice",
    );
    await sendText(pa, "Mine, to edit");
    await untilShown(pa, [
      "A message to react to (edited)",
      "This message was deleted.",
      "A reply",
      "Mine, to edit",
    ]);
    const first = pa.locator('parley-chat li.msg[data-seq="1"]');
    await first.locator("button.chip").waitFor();
    // The menu open on a message, a reply being written.
    await first.hover();
    await first.locator("button.more").click();
    await pa.locator("parley-chat .menu button", { hasText: "Reply" }).click();
    await first.locator("button.more").click();
    await pa.locator("parley-chat .menu[role=group]").waitFor();
    for (const scheme of ["light", "dark"] as const) {
      await pa.emulateMedia({ colorScheme: scheme });
      expect(await violations(pa), `menu and reply, ${scheme}`).toEqual([]);
    }
    // The editor, then the delete confirmation, of my own message.
    await pa.keyboard.press("Escape");
    const input = pa.locator("parley-chat textarea:not(.edit)");
    await input.fill("");
    await pa.keyboard.press("Escape"); // stop replying
    await input.press("ArrowUp");
    await pa.locator("parley-chat textarea.edit").waitFor();
    expect(await violations(pa), "editor").toEqual([]);
    await pa.keyboard.press("Escape");
    const mine = pa.locator("parley-chat li.msg", { hasText: "Mine, to edit" });
    await mine.hover();
    await mine.locator("button.more").click();
    await pa.locator("parley-chat .menu button", { hasText: "Delete" }).click();
    await pa.locator("parley-chat .menu", { hasText: "for everyone" }).waitFor();
    for (const scheme of ["light", "dark"] as const) {
      await pa.emulateMedia({ colorScheme: scheme });
      expect(await violations(pa), `confirmation, ${scheme}`).toEqual([]);
    }
  });

  it("an empty state and an error state: no serious or critical violation", async () => {
    const empty = await b.page(uid("loner"), "");
    await empty.locator("parley-chat .top .empty").waitFor();
    expect(await violations(empty), "no conversations").toEqual([]);

    const [alice, bob] = [uid("alice"), uid("bob")];
    const conv = await w.conversation([alice, bob]);
    const refused = await b.page(uid("mallory"), conv);
    await refused.locator('parley-chat .banner[data-state="closed"]').waitFor();
    await refused.locator("parley-chat .note").waitFor();
    for (const scheme of ["light", "dark"] as const) {
      await refused.emulateMedia({ colorScheme: scheme });
      expect(await violations(refused), `not a member, ${scheme}`).toEqual([]);
    }
  });
});
