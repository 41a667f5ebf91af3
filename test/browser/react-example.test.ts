/**
 * `examples/react/` as a reader runs it: `npm run example:react` against a dev relay (here one
 * started by the test, as `npm start` does), then the page in Chromium as Alice and as Bob,
 * and a message round trip through the example's composer.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/server.ts";
import { uid, useServer } from "../helpers/world.ts";
import { ARGS, CHROMIUM, haveChromium, until } from "./browser.ts";

const npm = process.platform === "win32" ? "npm.cmd" : "npm";

describe.skipIf(!haveChromium)("examples/react: npm run example:react", () => {
  const w = useServer();
  const state = {} as { proc: ChildProcess; url: string; browser: Browser; output: string };

  beforeAll(async () => {
    state.output = "";
    // Its own process group, so that stopping it stops npm and the node it started.
    state.proc = spawn(npm, ["run", "example:react"], {
      cwd: repoRoot,
      env: { ...process.env, PARLEY_URL: w.server.url, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    state.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL within 60 s:\n${state.output}`)), 60_000);
      const onData = (chunk: Buffer) => {
        state.output += chunk.toString();
        const found = /React example on (http:\/\/127\.0\.0\.1:\d+)/.exec(state.output);
        if (found?.[1]) {
          clearTimeout(timer);
          resolve(found[1]);
        }
      };
      state.proc.stdout?.on("data", onData);
      state.proc.stderr?.on("data", onData);
      state.proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`example exited (${code}):\n${state.output}`));
      });
    });
    state.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      timeout: 20_000,
    });
  }, 90_000);

  afterAll(async () => {
    await state.browser?.close().catch(() => undefined);
    const proc = state.proc;
    if (proc?.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      process.kill(-proc.pid, "SIGTERM");
      const timer = setTimeout(() => proc.pid !== undefined && process.kill(-proc.pid, "SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  });

  async function open(user: string): Promise<{ page: Page; errors: string[] }> {
    const context = await state.browser.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${state.url}/?user=${user}`);
    return { page, errors };
  }

  it("shows the demo threads and carries a message from Alice to Bob", async () => {
    const [alice, bob] = await Promise.all([open("alice"), open("bob")]);
    for (const { page } of [alice, bob]) {
      await page.locator('nav button[data-id="demo-welcome"]').waitFor();
      await page.locator('section[data-state="live"]').waitFor();
    }
    await bob.page.locator('nav button[data-id="demo-welcome"]').click();
    await bob.page.locator('section[data-state="live"]').waitFor();
    const text = `hello from the example ${uid("m")}`;
    await alice.page.locator('nav button[data-id="demo-welcome"]').click();
    await alice.page.getByLabel("Message").fill(text);
    await alice.page.getByRole("button", { name: "Send" }).click();
    await until(
      "bob sees alice's message",
      async () => {
        const bodies = await bob.page.locator("ol li .body").allTextContents();
        return { ok: bodies.includes(text), seen: bodies.slice(-3) };
      },
      15_000,
    );
    await until("alice sees it stored", async () => {
      const bodies = await alice.page.locator("ol li[data-seq] .body").allTextContents();
      return { ok: bodies.includes(text), seen: bodies.slice(-3) };
    });
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
    expect(state.output).toContain("React example on");
  }, 60_000);

  it("a relay it cannot reach: the page says so and where it looked, not only 'Loading…'", async () => {
    const context = await state.browser.newContext();
    context.setDefaultTimeout(15_000);
    // Every request to the relay is refused, as when it is not running.
    await context.route(`${w.server.url}/**`, (route) => route.abort("connectionrefused"));
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${state.url}/?user=alice`);
    await page.locator("nav", { hasText: `Cannot reach the relay at ${w.server.url}` }).waitFor();
    expect(await page.locator("nav").textContent()).toMatch(/Is it running\? Retrying…/);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});
