/**
 * An accessibility check of `<parley-chat>` with axe-core (injected into the page; it reads
 * open shadow roots) in Chromium: no serious or critical violation in the chat, the thread
 * list, an empty state and an error state, in the light and the dark theme.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { uid, useServer } from "../helpers/world.ts";
import { haveChromium, sendText, untilShown, useBrowser } from "./browser.ts";

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

let axeSource = "";

/** Serious and critical axe violations inside the widget, in a readable form. */
async function violations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axeSource });
  const found = (await page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run(el: Element, o: object): Promise<{ violations: unknown }> } }
    ).axe;
    const result = await axe.run(document.querySelector("parley-chat") as Element, {
      resultTypes: ["violations"],
    });
    return result.violations;
  })) as Violation[];
  return found
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} (${v.nodes
          .map((n) => `${JSON.stringify(n.target)} ${n.failureSummary ?? ""}`)
          .join("; ")})`,
    );
}

describe.skipIf(!haveChromium)("<parley-chat> accessibility (axe-core)", () => {
  const w = useServer();
  const b = useBrowser(() => w.server.url);

  beforeAll(async () => {
    axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  });

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
