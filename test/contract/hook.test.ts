/**
 * The pre-send hook (CONTRACT.md v1.1): each send, and each member's edit, goes to the app's
 * hook before it gets a seq; accept, rewrite and reject, with the sender's answer over HTTP and
 * the socket; a timeout or a failure decided by the app's setting; a rejected send uses no seq;
 * one slow hook call holds only its own send.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type ApiResponse, api, mintToken } from "../helpers/clients.ts";
import { type ServerHandle, startServer } from "../helpers/server.ts";
import { type Receiver, startReceiver, whsec } from "../helpers/webhook-receiver.ts";
import { expectError, history, send, uid, useServer } from "../helpers/world.ts";

const secret = whsec();
const hook: Receiver = await startReceiver(secret);
/**
 * Screenings of bodies starting "held" wait for this gate, which a test closes and opens: which
 * send the hook accepts first is then the test's choice, not a race between a delay and the load.
 */
let gate: Promise<void> = Promise.resolve();
/** Closes the gate for the screenings that arrive from now on; the function returned opens it. */
function closeGate(): () => void {
  let open: () => void = () => {};
  gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  return open;
}
/** Answers by the body it screens: the test's script for the hook. */
hook.reply = (request) => {
  const body = String(request.event.data.body);
  if (body.startsWith("reject"))
    return { status: 200, body: JSON.stringify({ reject: { message: "not here" } }) };
  if (body.startsWith("rewrite"))
    return { status: 200, body: JSON.stringify({ body: "[redacted]", meta: { moderated: true } }) };
  if (body.startsWith("held")) return gate.then(() => ({ status: 200, body: "{}" }));
  if (body.startsWith("slow")) return { status: 200, body: "{}", delayMs: 700 };
  if (body.startsWith("hang")) return { hang: true };
  if (body.startsWith("fail")) return { status: 500 };
  if (body.startsWith("garbage")) return { status: 200, body: "<html>" };
  return { status: 200, body: "{}" };
};
afterAll(() => hook.close());

const env = {
  PARLEY_HOOK_URL: `${hook.url}/screen`,
  PARLEY_HOOK_SECRET: secret,
  // Far above the script's 700 ms "slow" and any wait under load: a screening here ends by the
  // hook's answer. The timeout's own tests start a relay with 400 ms (`timeoutEnv`).
  PARLEY_HOOK_TIMEOUT_MS: "10000",
  PARLEY_SEND_RATE: "1000",
  PARLEY_SEND_BURST: "1000",
};
const timeoutEnv = { ...env, PARLEY_HOOK_TIMEOUT_MS: "400" };
const w = useServer({ env });

/**
 * Runs `check` against a relay of its own whose hook times out after 400 ms (`timeoutEnv` plus
 * `extra`), as one member of one new conversation: `send` posts to it. The relay is disposed after.
 */
async function withTimeoutRelay(
  extra: Record<string, string>,
  check: (
    server: ServerHandle,
    send: (body: Record<string, unknown>) => Promise<ApiResponse>,
  ) => Promise<void>,
): Promise<void> {
  const server = await startServer({ env: { ...timeoutEnv, ...extra } });
  try {
    const ann = uid("ann");
    const conv = uid("c");
    const admin = api(server.url, server.serverKey);
    expect((await admin.post("/v1/conversations", { id: conv, members: [ann] })).status).toBe(201);
    const member = api(server.url, await mintToken(server.secret, ann));
    await check(server, (body) => member.post(`/v1/conversations/${conv}/messages`, body));
  } finally {
    await server.dispose();
  }
}

const post = async (user: string, conv: string, body: Record<string, unknown>) =>
  (await w.as(user)).post(`/v1/conversations/${conv}/messages`, body);

describe("accept, rewrite, reject", () => {
  it("the hook gets each send, signed, before it has a seq; {} accepts it as sent", async () => {
    const [ann, bob] = [uid("ann"), uid("bob")];
    const conv = await w.conversation([ann, bob]);
    const res = await post(ann, conv, { clientMessageId: "k1", body: "hello", meta: { a: 1 } });
    expect(res.status).toBe(201);
    expect(res.json.message).toMatchObject({ seq: 1, body: "hello", meta: { a: 1 } });
    const call = hook.requests.find((r) => r.event.conversationId === conv);
    expect(call?.verified).toBe(true);
    expect(call?.path).toBe("/screen");
    expect(call?.event).toMatchObject({
      type: "message.sending",
      app: "default",
      conversationId: conv,
      data: { senderId: ann, clientMessageId: "k1", body: "hello", meta: { a: 1 } },
    });
    expect(hook.forged).toEqual([]);
  });

  it("a rewrite is stored and fanned out rewritten; a retry of its key is answered with it (not 409)", async () => {
    const [ann, bob] = [uid("ann"), uid("bob")];
    const conv = await w.conversation([ann, bob]);
    const listener = await w.synced(bob, conv);
    const res = await post(ann, conv, { clientMessageId: "k1", body: "rewrite this" });
    expect(res.status).toBe(201);
    expect(res.json.message).toMatchObject({ seq: 1, body: "[redacted]", meta: { moderated: true } });
    const frame = await listener.waitFor((f) => f.type === "message", 5000);
    expect(frame.message.body).toBe("[redacted]");
    const retry = await post(ann, conv, { clientMessageId: "k1", body: "rewrite this" });
    expect(retry.status).toBe(200);
    expect(retry.json.message).toEqual(res.json.message);
    const stored = await history(await w.as(bob), conv);
    expect(stored.map((m) => m.body)).toEqual(["[redacted]"]);
  });

  it("a rejection is 422 rejected with the hook's message; nothing is stored and no seq is used", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    const a = await w.as(ann);
    await send(a, conv, "k1", "first");
    const refused = await post(ann, conv, { clientMessageId: "k2", body: "reject this" });
    expectError(refused, 422, "rejected");
    expect(refused.json.error.message).toBe("not here");
    const next = await send(a, conv, "k3", "third try");
    expect(next.seq).toBe(2);
    expect((await history(a, conv)).map((m) => m.seq)).toEqual([1, 2]);
  });

  it("a reply to no message is refused 400 before the hook hears of it (found from outside)", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    const a = await w.as(ann);
    await send(a, conv, "k1", "parent");
    // seq 2 is an edit (a change, not a message), seq 9 is past the end.
    expect(
      (await a.request("PATCH", `/v1/conversations/${conv}/messages/1`, { body: "edited" })).status,
    ).toBe(200);
    for (const [key, replyTo] of [
      ["r-change", 2],
      ["r-beyond", 9],
    ] as const)
      expectError(
        await post(ann, conv, { clientMessageId: key, body: "a reply", replyTo }),
        400,
        "bad_request",
      );
    // A reply to a real message is screened: the hook's call for it shows the calls are seen.
    expect((await post(ann, conv, { clientMessageId: "r-ok", body: "a reply", replyTo: 1 })).status).toBe(
      201,
    );
    const screened = hook.requests
      .filter((r) => r.event.conversationId === conv && r.event.type === "message.sending")
      .map((r) => r.event.data.clientMessageId);
    expect(screened).toEqual(["k1", "r-ok"]);
  });

  it("over the socket: a rejection is an error frame for that send, and the socket stays open", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    const socket = await w.synced(ann, conv);
    socket.send({ type: "send", clientMessageId: "k1", body: "reject me" });
    const error = await socket.waitFor((f) => f.type === "error" && f.clientMessageId === "k1", 5000);
    expect(error).toMatchObject({ code: "rejected", message: "not here" });
    socket.send({ type: "send", clientMessageId: "k2", body: "fine" });
    const ack = await socket.waitFor((f) => f.type === "ack" && f.clientMessageId === "k2", 5000);
    expect(ack.message).toMatchObject({ seq: 1, body: "fine" });
  });
});

describe("edits are screened too (so moderation cannot be passed by editing a message)", () => {
  const patch = async (user: string, conv: string, seq: number, body: Record<string, unknown>) =>
    (await w.as(user)).request("PATCH", `/v1/conversations/${conv}/messages/${seq}`, body);
  const edits = (conv: string) =>
    hook.requests.filter((r) => r.event.conversationId === conv && r.event.type === "message.editing");

  it("a member's edit goes to the hook, signed, with the content it would give; {} accepts it", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    expect((await post(ann, conv, { clientMessageId: "k1", body: "hello", meta: { a: 1 } })).status).toBe(
      201,
    );
    const edited = await patch(ann, conv, 1, { body: "hello there" });
    expect(edited.status, edited.text).toBe(200);
    expect(edited.json.message).toMatchObject({ seq: 1, body: "hello there", meta: { a: 1 } });
    const [call] = edits(conv);
    expect(call?.verified).toBe(true);
    // The whole content the message would have: the meta it keeps too.
    expect(call?.event).toMatchObject({
      type: "message.editing",
      app: "default",
      conversationId: conv,
      data: { senderId: ann, seq: 1, body: "hello there", meta: { a: 1 } },
    });
    expect(call?.id).toMatch(/^edit_/);
    // A meta-only edit shows the body it keeps.
    expect((await patch(ann, conv, 1, { meta: { b: 2 } })).status).toBe(200);
    expect(edits(conv)[1]?.event.data).toEqual({
      senderId: ann,
      seq: 1,
      body: "hello there",
      meta: { b: 2 },
    });
  });

  it("a rejected edit is 422 with the hook's message: the message is unchanged and no seq is used", async () => {
    const [ann, bob] = [uid("ann"), uid("bob")];
    const conv = await w.conversation([ann, bob]);
    const a = await w.as(ann);
    await send(a, conv, "k1", "fine words");
    const refused = await patch(ann, conv, 1, { body: "reject: rude words" });
    expectError(refused, 422, "rejected");
    expect(refused.json.error.message).toBe("not here");
    const log = await (await w.as(bob)).get(`/v1/conversations/${conv}/log`);
    expect(log.json.lastSeq).toBe(1);
    expect(log.json.entries[0].message).toMatchObject({ body: "fine words" });
    expect(log.json.entries[0].message.editedAt).toBeUndefined();
    expect((await send(a, conv, "k2", "next")).seq).toBe(2);
  });

  it("a rewritten edit is stored rewritten, and its change frame carries the rewrite", async () => {
    const [ann, bob] = [uid("ann"), uid("bob")];
    const conv = await w.conversation([ann, bob]);
    expect(
      (await post(ann, conv, { clientMessageId: "k1", body: "first", meta: { keep: true } })).status,
    ).toBe(201);
    const listener = await w.synced(bob, conv);
    const res = await patch(ann, conv, 1, { body: "rewrite: something" });
    expect(res.status).toBe(200);
    expect(res.json.message).toMatchObject({ seq: 1, body: "[redacted]", meta: { moderated: true } });
    const frame = await listener.waitFor((f) => f.type === "change", 5000);
    expect(frame.message).toMatchObject({ body: "[redacted]", meta: { moderated: true } });
    expect(frame.change).toMatchObject({ kind: "edit", target: 1, body: "[redacted]" });
  });

  it("not screened: the server key's edits, an edit that changes nothing, and one refused by the rules (403)", async () => {
    const [ann, bob] = [uid("ann"), uid("bob")];
    const conv = await w.conversation([ann, bob]);
    await send(await w.as(ann), conv, "k1", "same");
    const moderated = await w.admin.request("PATCH", `/v1/conversations/${conv}/messages/1`, {
      body: "reject: the back end's own words",
    });
    expect(moderated.status).toBe(200);
    expect((await patch(ann, conv, 1, { body: "reject: the back end's own words" })).status).toBe(200);
    expectError(await patch(bob, conv, 1, { body: "not mine" }), 403, "forbidden");
    expect(edits(conv)).toEqual([]);
  });

  it("over the socket: a rejected edit is an error frame with its ref, and the socket stays open", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    const socket = await w.synced(ann, conv);
    socket.send({ type: "send", clientMessageId: "k1", body: "hi" });
    await socket.waitFor((f) => f.type === "ack" && f.clientMessageId === "k1", 5000);
    socket.send({ type: "edit", seq: 1, body: "reject me", ref: "e1" });
    const error = await socket.waitFor((f) => f.type === "error" && f.ref === "e1", 5000);
    expect(error).toMatchObject({ code: "rejected", message: "not here" });
    socket.send({ type: "edit", seq: 1, body: "hi again", ref: "e2" });
    const ack = await socket.waitFor((f) => f.type === "ack" && f.ref === "e2", 5000);
    expect(ack.message).toMatchObject({ seq: 1, body: "hi again" });
  });
});

describe("timeouts and failures (the default: accept)", () => {
  it("a hook that does not answer in time, answers 500, or answers nonsense: the send is stored as sent", async () => {
    await withTimeoutRelay({}, async (server, send) => {
      for (const [key, body] of [
        ["k1", "hang here"],
        ["k2", "fail here"],
        ["k3", "garbage here"],
      ] as const) {
        const res = await send({ clientMessageId: key, body });
        expect(res.status, res.text).toBe(201);
        expect(res.json.message.body).toBe(body);
      }
      expect(server.output()).toContain("pre-send hook of default");
    });
  });
});

/** Resolves once the hook has received the screening of `clientMessageId` in `conv` (5 s at most). */
async function screening(conv: string, clientMessageId: string): Promise<void> {
  const arrived = () =>
    hook.requests.some(
      (r) => r.event.conversationId === conv && r.event.data.clientMessageId === clientMessageId,
    );
  for (let waited = 0; !arrived(); waited += 10) {
    if (waited >= 5000) throw new Error(`the hook never received ${clientMessageId} in ${conv}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("one conversation's hook never holds another's sends", () => {
  it("a slow screening in one room; another room's sends are answered meanwhile", async () => {
    const [ann] = [uid("ann")];
    const slowRoom = await w.conversation([ann]);
    const fastRoom = await w.conversation([ann]);
    const open = closeGate();
    try {
      const done: string[] = [];
      const slow = post(ann, slowRoom, { clientMessageId: "s1", body: "held one" }).then((r) => {
        done.push("slow");
        return r;
      });
      await screening(slowRoom, "s1");
      const fast = await post(ann, fastRoom, { clientMessageId: "f1", body: "quick one" });
      done.push("fast");
      expect(fast.status).toBe(201);
      open();
      expect((await slow).status).toBe(201);
      expect(done).toEqual(["fast", "slow"]);
    } finally {
      open();
    }
  });

  it("in one room, sends are ordered as the hook accepted them: a quick send passes a slow one", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    const open = closeGate();
    try {
      const slow = post(ann, conv, { clientMessageId: "s1", body: "held one" });
      await screening(conv, "s1");
      const quick = await post(ann, conv, { clientMessageId: "q1", body: "quick one" });
      expect(quick.status, quick.text).toBe(201);
      expect(quick.json.message.seq).toBe(1);
      open();
      expect((await slow).json.message.seq).toBe(2);
    } finally {
      open();
    }
  });

  it("a retry while the hook is still screening joins it: one call, one message", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    const before = hook.requests.filter((r) => r.event.conversationId === conv).length;
    const [first, second] = await Promise.all([
      post(ann, conv, { clientMessageId: "same", body: "slow twice" }),
      new Promise((r) => setTimeout(r, 50)).then(() =>
        post(ann, conv, { clientMessageId: "same", body: "slow twice" }),
      ),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 201]);
    expect(first.json.message.seq).toBe(1);
    expect(second.json.message.seq).toBe(1);
    expect(hook.requests.filter((r) => r.event.conversationId === conv).length - before).toBe(1);
    const conflict = await post(ann, conv, { clientMessageId: "same", body: "other content" });
    expectError(conflict, 409, "conflict");
  });
});

describe("PARLEY_HOOK_ON_FAILURE=reject", () => {
  it("a timeout or a failure refuses the send with 503 hook_unavailable (Retry-After), and uses no seq", async () => {
    await withTimeoutRelay({ PARLEY_HOOK_ON_FAILURE: "reject" }, async (_server, send) => {
      const hung = await send({ clientMessageId: "k1", body: "hang here" });
      expectError(hung, 503, "hook_unavailable");
      expect(hung.headers.get("retry-after")).toBe("1");
      expectError(await send({ clientMessageId: "k2", body: "fail here" }), 503, "hook_unavailable");
      const ok = await send({ clientMessageId: "k3", body: "all good" });
      expect(ok.status).toBe(201);
      expect(ok.json.message.seq).toBe(1);
    });
  });
});
