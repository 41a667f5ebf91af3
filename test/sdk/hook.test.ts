/**
 * The SDK and the app's pre-send hook (CONTRACT.md v1.1): a rejection is final (the send
 * rejects with `rejected` and the hook's words, and leaves the outbox); a hook that cannot
 * answer (`PARLEY_HOOK_ON_FAILURE=reject`: 503 `hook_unavailable`) is retried with the same key
 * until it can, and the message is then stored once.
 */
import { afterAll, expect, it } from "vitest";
import { type Receiver, startReceiver, whsec } from "../helpers/webhook-receiver.ts";
import { history, uid, useServer } from "../helpers/world.ts";
import { record, useClients } from "./harness.ts";

const secret = whsec();
const hook: Receiver = await startReceiver(secret);
let hookDown = false;
hook.reply = (request) => {
  if (hookDown) return { status: 500 };
  if (String(request.event.data.body).startsWith("spam"))
    return { status: 200, body: JSON.stringify({ reject: { message: "no spam here" } }) };
  return { status: 200, body: "{}" };
};
afterAll(() => hook.close());

const w = useServer({
  env: {
    PARLEY_HOOK_URL: `${hook.url}/screen`,
    PARLEY_HOOK_SECRET: secret,
    PARLEY_HOOK_ON_FAILURE: "reject",
    PARLEY_HOOK_TIMEOUT_MS: "500",
  },
});
const clients = useClients(w);

it("a send the hook rejects rejects with its words and leaves the outbox; the next one goes", async () => {
  const ann = uid("ann");
  const conv = await w.conversation([ann]);
  const r = record(clients.make(ann), conv);
  await r.conversation.ready();
  await expect(r.conversation.send("spam spam")).rejects.toMatchObject({
    code: "rejected",
    message: expect.stringContaining("no spam here"),
  });
  expect(r.conversation.pending).toEqual([]);
  const ok = await r.conversation.send("hello");
  expect(ok.seq).toBe(1); // the rejection used no seq
});

it("hook_unavailable is retried with the same key until the hook answers; stored once", async () => {
  const ann = uid("ann");
  const conv = await w.conversation([ann]);
  const r = record(clients.make(ann), conv);
  await r.conversation.ready();
  hookDown = true;
  const sent = r.conversation.send("while the hook is down");
  // Wait until the relay has refused it at least twice, then let the hook answer again.
  const calls = () => hook.requests.filter((q) => q.event.conversationId === conv).length;
  for (let i = 0; i < 200 && calls() < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(calls()).toBeGreaterThanOrEqual(2);
  hookDown = false;
  const message = await sent;
  expect(message).toMatchObject({ seq: 1, body: "while the hook is down" });
  const keys = new Set(
    hook.requests.filter((q) => q.event.conversationId === conv).map((q) => q.event.data.clientMessageId),
  );
  expect(keys.size).toBe(1); // every attempt carried the same key
  expect((await history(await w.as(ann), conv)).map((m) => m.body)).toEqual(["while the hook is down"]);
}, 30_000);
