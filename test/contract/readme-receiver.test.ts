/**
 * The README's webhook receiver, exactly as printed there, run against a real relay: it
 * verifies with `standardwebhooks`, pushes to the members who were offline, and refuses a
 * request that is not signed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { repoRoot } from "../helpers/server.ts";
import { whsec } from "../helpers/webhook-receiver.ts";
import { eventually, send, uid, useServer } from "../helpers/world.ts";

/** The ```js block of "Your back end" in the README. */
function readmeReceiver(): string {
  const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Your back end"));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error("no ```js block in the README's 'Your back end' section");
  return match[1];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const secret = whsec();
const port = await freePort();
// Inside the repository, so that `standardwebhooks` resolves from its node_modules.
const dir = path.join(repoRoot, "test-artifacts", "readme-receiver");
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, "receiver.mjs"), readmeReceiver());
let output = "";
const receiver: ChildProcess = spawn(process.execPath, [path.join(dir, "receiver.mjs")], {
  env: { PATH: process.env.PATH ?? "", PORT: String(port), PARLEY_WEBHOOK_SECRET: secret },
  stdio: ["ignore", "pipe", "pipe"],
});
receiver.stdout?.on("data", (chunk) => {
  output += chunk;
});
receiver.stderr?.on("data", (chunk) => {
  output += chunk;
});
afterAll(() => {
  receiver.kill("SIGKILL");
});

const w = useServer({
  env: { PARLEY_WEBHOOK_URL: `http://127.0.0.1:${port}/`, PARLEY_WEBHOOK_SECRET: secret },
});

it("pushes a new message to the members who were offline, once", async () => {
  const [ann, bob, cy] = [uid("ann"), uid("bob"), uid("cy")];
  const conv = await w.conversation([ann, bob, cy]);
  await w.synced(cy, conv); // cy is online: no push for cy
  await send(await w.as(ann), conv, "k1", "hello from the README");
  await eventually(async () => output.includes("hello from the README"), 15_000);
  expect(output).toContain(`push to ${bob}: hello from the README`);
  expect(output).not.toContain(`push to ${cy}`);
  expect(output).not.toContain(`push to ${ann}`);
});

it("refuses a request that is not signed with 401", async () => {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": "msg_x",
      "webhook-timestamp": "1",
      "webhook-signature": "v1,AAAA",
    },
    body: "{}",
  });
  expect(res.status).toBe(401);
});
