/**
 * axe-core in a page (it reads open shadow roots): the serious and critical violations inside
 * `<parley-chat>`, in a readable form. Shared by the accessibility tests.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

let axeSource: Promise<string> | undefined;

/** Serious and critical axe violations inside the widget, in a readable form. */
export async function violations(page: Page): Promise<string[]> {
  axeSource ??= readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: await axeSource });
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
