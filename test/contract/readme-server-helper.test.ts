/**
 * The README's `parley/server` example, exactly as printed there, run in a child process
 * against a real relay: it creates a conversation, sends as a bot member, signs a token, and
 * catches a 404 as a `ParleyApiError` (server-helper.test.ts shows the relay admits such a token).
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { ParleyServer } from "../../server/index.ts";
import { repoRoot } from "../helpers/server.ts";
import { useServer } from "../helpers/world.ts";

const run = promisify(execFile);

/** The ```js block of the README's back-end helper section, importing the sources (no build needed). */
function readmeExample(): string {
  const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## The back-end helper: `parley/server`"));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error("no ```js block in the README's back-end helper section");
  expect(match[1]).toContain('from "parley/server"');
  return match[1].replace(
    'from "parley/server"',
    `from ${JSON.stringify(path.join(repoRoot, "server/index.ts"))}`,
  );
}

const w = useServer();

it("runs the README's example against a real relay", async () => {
  const dir = path.join(repoRoot, "test-artifacts", "readme-server-helper");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "example.mjs"), readmeExample());
  const { stdout } = await run(process.execPath, ["--import", "tsx", path.join(dir, "example.mjs")], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      PARLEY_URL: w.server.url,
      PARLEY_SERVER_KEY: w.server.serverKey,
      PARLEY_SECRET: w.server.secret,
    },
    timeout: 20_000,
  });
  const lines = stdout.trim().split("\n");
  expect(lines[0]).toBe("404 not_found");
  const [conversationId, seq, parts] = (lines[1] ?? "").split(" ");
  expect([seq, parts]).toEqual(["1", "3"]);

  // What the example did is in the relay: the bot's message in the new conversation.
  const api = new ParleyServer({ baseUrl: w.server.url, serverKey: w.server.serverKey });
  const page = await api.log(conversationId ?? "");
  expect(page.entries.map((e) => [e.message.senderId, e.message.body])).toEqual([
    ["support-bot", "An agent will be with you shortly."],
  ]);
}, 30_000);
