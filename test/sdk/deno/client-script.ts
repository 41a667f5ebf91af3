/**
 * Run by `deno.test.ts` under the `deno` binary: the SDK from its TypeScript sources against a
 * real relay. Two users, one on WebSocket (Deno's own WebSocket) and one on SSE (Deno's fetch
 * streaming), talk, type and read; the result is printed as one JSON line.
 */
import { createParleyClient, type Message } from "../../../client/index.ts";

interface DenoLike {
  env: { get(key: string): string | undefined };
  version: { deno: string };
  exit(code: number): never;
}
const deno = (globalThis as unknown as { Deno: DenoLike }).Deno;
const need = (key: string): string => {
  const v = deno.env.get(key);
  if (!v) throw new Error(`missing ${key}`);
  return v;
};

const url = need("PARLEY_URL");
const conv = need("PARLEY_CONV");
const tokens: Record<string, string> = { alice: need("TOKEN_ALICE"), bob: need("TOKEN_BOB") };

const common = { url, heartbeatMs: 500, pongTimeoutMs: 500, reconnectDelay: { minMs: 50, maxMs: 500 } };
const alice = createParleyClient({ ...common, token: async () => tokens.alice as string });
const bob = createParleyClient({ ...common, token: async () => tokens.bob as string, transport: "sse" });
const a = alice.conversation(conv, { after: 0 });
const b = bob.conversation(conv, { after: 0 });
const got: Record<string, number[]> = { alice: [], bob: [] };
a.on("message", (m: Message) => got.alice?.push(m.seq));
b.on("message", (m: Message) => got.bob?.push(m.seq));
let bobSawTyping = false;
b.on("typing", (t) => {
  if (t.userId === "alice" && t.typing) bobSawTyping = true;
});

const deadline = Date.now() + 15_000;
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

try {
  await Promise.all([a.ready(), b.ready()]);
  a.typing();
  await until(() => bobSawTyping, "typing");
  const sent: Message[] = [];
  for (let i = 0; i < 3; i++) sent.push(await a.send(`from deno alice ${i}`));
  sent.push(await b.send("from deno bob"));
  await until(() => (got.alice?.length ?? 0) >= 4 && (got.bob?.length ?? 0) >= 4, "messages");
  await b.markRead(4);
  await until(() => a.readPositions.get("bob") === 4, "read receipt");
  console.log(
    JSON.stringify({
      runtime: `deno ${deno.version.deno}`,
      transports: [a.transportKind, b.transportKind],
      sentSeqs: sent.map((m) => m.seq),
      alice: got.alice,
      bob: got.bob,
      bobSawTyping,
      aliceSawRead: a.readPositions.get("bob"),
      states: [a.state, b.state],
    }),
  );
  alice.close();
  bob.close();
  deno.exit(0);
} catch (error) {
  console.error(String(error));
  deno.exit(1);
}
