/** Idempotent retries: the same clientMessageId is answered with the original message, even after a crash. */
import { describe, expect, it } from "vitest";
import { expectError, history, send, uid, useServer } from "../helpers/world.ts";

const w = useServer();

describe("idempotency over HTTP", () => {
  it("same key again -> 200 with the same message; different body or meta -> 409", async () => {
    const conv = await w.conversation(["idem-a", "idem-b"]);
    const a = await w.as("idem-a");
    const path = `/v1/conversations/${conv}/messages`;
    const first = await a.post(path, { clientMessageId: "k-1", body: "hello", meta: { x: 1 } });
    expect(first.status).toBe(201);
    const again = await a.post(path, { clientMessageId: "k-1", body: "hello", meta: { x: 1 } });
    expect(again.status).toBe(200);
    expect(again.json.message).toEqual(first.json.message);

    expectError(await a.post(path, { clientMessageId: "k-1", body: "HELLO", meta: { x: 1 } }), 409);
    expectError(await a.post(path, { clientMessageId: "k-1", body: "hello", meta: { x: 2 } }), 409);
    expectError(await a.post(path, { clientMessageId: "k-1", body: "hello" }), 409);

    const next = await send(a, conv, "k-2");
    expect(next.seq).toBe(2);
    const all = await history(a, conv);
    expect(all.map((m) => m.clientMessageId)).toEqual(["k-1", "k-2"]);
  });

  it("same key with another replyTo -> 409, whether the first is stored or still on its way", async () => {
    const conv = await w.conversation(["rt-a"]);
    const a = await w.as("rt-a");
    const path = `/v1/conversations/${conv}/messages`;
    await send(a, conv, "parent-1");
    await send(a, conv, "parent-2");
    const reply = await a.post(path, { clientMessageId: "r-1", body: "re", replyTo: 1 });
    expect(reply.status).toBe(201);
    expect((await a.post(path, { clientMessageId: "r-1", body: "re", replyTo: 1 })).status).toBe(200);
    const other = await a.post(path, { clientMessageId: "r-1", body: "re", replyTo: 2 });
    expectError(other, 409, "conflict");
    expect(other.json.error.message).toContain("replyTo");
    expectError(await a.post(path, { clientMessageId: "r-1", body: "re" }), 409);
    // Sent together: the second finds the first in flight (or stored), and is refused either way.
    const both = await Promise.all([
      a.post(path, { clientMessageId: "r-2", body: "re", replyTo: 1 }),
      a.post(path, { clientMessageId: "r-2", body: "re", replyTo: 2 }),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual([201, 409]);
    expect((await history(a, conv)).map((m) => m.clientMessageId)).toEqual([
      "parent-1",
      "parent-2",
      "r-1",
      "r-2",
    ]);
  });

  it("parallel retries of one key store one message", async () => {
    const conv = await w.conversation(["par-a"]);
    const a = await w.as("par-a");
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "same", body: "once" }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    for (const r of results) expect(r.json.message.seq).toBe(1);
    expect((await history(a, conv)).length).toBe(1);
  });

  it("keys are per sender: two senders may use the same key", async () => {
    const conv = await w.conversation(["ps-a", "ps-b"]);
    const m1 = await send(await w.as("ps-a"), conv, "shared", "from a");
    const m2 = await send(await w.as("ps-b"), conv, "shared", "from b");
    expect([m1.seq, m2.seq]).toEqual([1, 2]);
  });

  it("the server key posting as a member shares the member's keys", async () => {
    const conv = await w.conversation(["sk-a"]);
    const a = await w.as("sk-a");
    const m = await send(a, conv, "dup", "same body");
    const res = await w.admin.post(`/v1/conversations/${conv}/messages`, {
      senderId: "sk-a",
      clientMessageId: "dup",
      body: "same body",
    });
    expect(res.status).toBe(200);
    expect(res.json.message.seq).toBe(m.seq);
  });
});

describe("idempotency over the socket", () => {
  it("a send frame twice -> two acks with the same seq, one message fanned out", async () => {
    const conv = await w.conversation(["wsi-a", "wsi-b"]);
    const sa = await w.synced("wsi-a", conv);
    const sb = await w.synced("wsi-b", conv);
    sa.send({ type: "send", clientMessageId: "w-1", body: "hi" });
    sa.send({ type: "send", clientMessageId: "w-1", body: "hi" });
    const acks = await sa.until(
      () => (sa.ofType("ack").length >= 2 ? sa.ofType("ack") : undefined),
      5000,
      "2 acks",
    );
    expect(acks.map((f) => f.clientMessageId)).toEqual(["w-1", "w-1"]);
    expect(acks[0]?.message.seq).toBe(1);
    expect(acks[1]?.message).toEqual(acks[0]?.message);

    // A later message proves the duplicate was not fanned out in between.
    sa.send({ type: "send", clientMessageId: "w-2", body: "next" });
    await sb.waitFor((f) => f.type === "message" && f.message.clientMessageId === "w-2");
    await sa.waitFor((f) => f.type === "message" && f.message.clientMessageId === "w-2");
    expect(sb.messages()).toEqual([1, 2]);
    expect(sa.messages()).toEqual([1, 2]);

    // Same key with a different body on the socket -> an error frame naming the key, code conflict-ish.
    sa.send({ type: "send", clientMessageId: "w-1", body: "changed" });
    const err = await sa.waitFor((f) => f.type === "error" && f.clientMessageId === "w-1");
    expect(err.code).toEqual(expect.any(String));
    expect(err.message).toEqual(expect.any(String));

    // HTTP retry of a key first sent over the socket -> 200, same message.
    const res = await (await w.as("wsi-a")).post(`/v1/conversations/${conv}/messages`, {
      clientMessageId: "w-1",
      body: "hi",
    });
    expect(res.status).toBe(200);
    expect(res.json.message).toEqual(acks[0]?.message);
    expect((await history(await w.as("wsi-b"), conv)).map((m) => m.seq)).toEqual([1, 2]);
  });
});

describe("idempotency across a crash", () => {
  it("after SIGKILL + restart a retry returns the original, and seqs continue", async () => {
    const conv = await w.conversation(["crash-a", "crash-b"]);
    const a = await w.as("crash-a");
    const b = await w.as("crash-b");
    const originals = [];
    for (let i = 1; i <= 5; i++) originals.push(await send(i % 2 ? a : b, conv, `pre-${i}`, `body ${i}`));
    const sock = await w.synced("crash-b", conv);

    const exit = await w.server.kill();
    expect(exit.signal).toBe("SIGKILL");
    expect((await sock.closed).code).toBe(1006);
    await w.server.restart();

    for (let i = 1; i <= 5; i++) {
      const res = await (i % 2 ? a : b).post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: `pre-${i}`,
        body: `body ${i}`,
      });
      expect(res.status, res.text).toBe(200);
      expect(res.json.message).toEqual(originals[i - 1]);
    }
    expectError(
      await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "pre-1", body: "other" }),
      409,
    );
    const after = await send(a, conv, uid("post"));
    expect(after.seq).toBe(6);
    expect((await history(a, conv)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
