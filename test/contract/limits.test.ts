/** Limits: sizes (413), content type (415), bad input (400), rate limits (429 / rate_limited / 4008), frames (1009). */
import { describe, expect, it } from "vitest";
import { expectError, history, send, sleep, uid, useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_SEND_RATE: "2", PARLEY_SEND_BURST: "3" } });

const msgPath = (conv: string) => `/v1/conversations/${conv}/messages`;

describe("HTTP limits", () => {
  it("body of exactly 16 KiB is accepted; one byte more is 413; UTF-8 bytes count, not characters", async () => {
    const conv = await w.conversation(["sz-a"]);
    const a = await w.as("sz-a");
    const ok = await a.post(msgPath(conv), { clientMessageId: "max", body: "a".repeat(16 * 1024) });
    expect(ok.status, ok.text.slice(0, 200)).toBe(201);
    expect(ok.json.message.body.length).toBe(16 * 1024);
    expectError(
      await a.post(msgPath(conv), { clientMessageId: "over", body: "a".repeat(16 * 1024 + 1) }),
      413,
    );
    // 6000 euro signs: 6000 characters but 18000 bytes.
    expectError(await a.post(msgPath(conv), { clientMessageId: "euro", body: "€".repeat(6000) }), 413);
    const small = await a.post(msgPath(conv), { clientMessageId: "euro-ok", body: "€".repeat(5000) });
    expect(small.status).toBe(201);
    expect(small.json.message.body).toBe("€".repeat(5000));
    expect((await history(a, conv)).map((m) => m.clientMessageId)).toEqual(["max", "euro-ok"]);
  });

  it("an HTTP body over 64 KiB is 413", async () => {
    const conv = await w.conversation(["big-a"]);
    const a = await w.as("big-a");
    const res = await a.post(msgPath(conv), {
      clientMessageId: "big",
      body: "x",
      meta: { pad: "p".repeat(70_000) },
    });
    expectError(res, 413);
    expectError(
      await w.admin.post("/v1/conversations", { members: ["big-a"], title: "t".repeat(70_000) }),
      413,
    );
    expect((await history(a, conv)).length).toBe(0);
  });

  it("a non-JSON content type is 415; malformed JSON is 400", async () => {
    const conv = await w.conversation(["ct-a"]);
    const a = await w.as("ct-a");
    const body = JSON.stringify({ clientMessageId: "k", body: "x" });
    expectError(
      await a.post(msgPath(conv), undefined, { raw: body, headers: { "content-type": "text/plain" } }),
      415,
    );
    expectError(
      await a.post(msgPath(conv), undefined, {
        raw: "clientMessageId=k&body=x",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
      415,
    );
    expectError(await a.post(msgPath(conv), undefined, { raw: '{"clientMessageId": "k", "body": ' }), 400);
    expectError(await a.post(msgPath(conv), undefined, { raw: "[1,2" }), 400);
    expectError(await a.post(`/v1/conversations/${conv}/read`, undefined, { raw: "{bad" }), 400);
    expectError(await w.admin.post("/v1/conversations", undefined, { raw: "{nope" }), 400);
    // JSON with a charset parameter is still JSON.
    const ok = await a.post(msgPath(conv), undefined, {
      raw: body,
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    expect(ok.status).toBe(201);
  });

  it("invalid message fields are 400", async () => {
    const conv = await w.conversation(["bad-a"]);
    const a = await w.as("bad-a");
    for (const b of [
      { body: "no key" },
      { clientMessageId: "", body: "x" },
      { clientMessageId: "has space", body: "x" },
      { clientMessageId: "k".repeat(65), body: "x" },
      { clientMessageId: "k1" },
      { clientMessageId: "k2", body: 42 },
      [1, 2, 3],
    ]) {
      expectError(await a.post(msgPath(conv), b), 400);
    }
    // 64-character key is fine.
    await send(a, conv, "k".repeat(64));
  });

  it("rate limit: 429 with Retry-After; a replayed key is still answered 200; other users and conversations unaffected", async () => {
    const conv = await w.conversation(["rl-a", "rl-b"]);
    const other = await w.conversation(["rl-a"]);
    const a = await w.as("rl-a");
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => a.post(msgPath(conv), { clientMessageId: `r${i}`, body: `r${i}` })),
    );
    const accepted = results.filter((r) => r.status === 201);
    const limited = results.filter((r) => r.status === 429);
    expect(accepted.length + limited.length).toBe(8);
    expect(accepted.length).toBeGreaterThanOrEqual(3);
    expect(accepted.length).toBeLessThanOrEqual(4);
    const first = limited[0];
    if (!first) throw new Error("no 429");
    expectError(first, 429);
    const retryAfter = first.headers.get("retry-after");
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(5);

    // Still limited, yet a replay of an accepted key is answered with the original.
    const original = accepted[0]?.json.message;
    for (let i = 0; i < 5; i++) {
      const again = await a.post(msgPath(conv), {
        clientMessageId: original.clientMessageId,
        body: original.body,
      });
      expect(again.status).toBe(200);
      expect(again.json.message).toEqual(original);
    }
    // Per user and per conversation.
    await send(await w.as("rl-b"), conv, "b-is-fine");
    await send(a, other, "other-conv-is-fine");

    // After Retry-After, the limited key goes through.
    await sleep(Number(retryAfter) * 1000 + 100);
    const idx = results.indexOf(first);
    const retried = await a.post(msgPath(conv), { clientMessageId: `r${idx}`, body: `r${idx}` });
    expect(retried.status, retried.text).toBe(201);
    const seqs = (await history(a, conv)).map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });
});

describe("socket limits", () => {
  it("a frame over 64 KiB closes the socket with 1009", async () => {
    const conv = await w.conversation(["fr-a"]);
    const s = await w.synced("fr-a", conv);
    s.send({ type: "send", clientMessageId: "huge", body: "x", meta: { pad: "p".repeat(70_000) } });
    expect((await s.closed).code).toBe(1009);
    expect((await history(await w.as("fr-a"), conv)).length).toBe(0);
  });

  it("bad frames are answered with error frames and the socket stays usable", async () => {
    const conv = await w.conversation(["bf-a"]);
    const s = await w.synced("bf-a", conv);
    s.sendRaw("this is not json");
    await s.until(() => s.ofType("error").length >= 1 || undefined, 3000, "error for non-JSON");
    s.send({ type: "no-such-frame" });
    await s.until(() => s.ofType("error").length >= 2 || undefined, 3000, "error for unknown type");
    s.send({ type: "send", clientMessageId: "nobody" });
    const e3 = await s.waitFor((f) => f.type === "error" && f.clientMessageId === "nobody", 3000);
    s.send({ type: "send", clientMessageId: "too-big", body: "a".repeat(16 * 1024 + 1) });
    const e4 = await s.waitFor((f) => f.type === "error" && f.clientMessageId === "too-big", 3000);
    for (const e of [...s.ofType("error"), e3, e4]) {
      expect(e).toMatchObject({
        code: expect.stringMatching(/^[a-z][a-z0-9_]*$/),
        message: expect.any(String),
      });
    }
    s.send({ type: "ping" });
    await s.waitFor((f) => f.type === "pong", 3000);
    s.send({ type: "send", clientMessageId: "good", body: "fine" });
    const ack = await s.waitFor((f) => f.type === "ack", 3000);
    expect(ack.message.seq).toBe(1);
    expect(s.isOpen).toBe(true);
  });

  it("a send over the rate limit gets an error frame with code rate_limited and its key", async () => {
    const conv = await w.conversation(["srl-a"]);
    const s = await w.synced("srl-a", conv);
    for (let i = 0; i < 6; i++) s.send({ type: "send", clientMessageId: `s${i}`, body: `s${i}` });
    await s.until(
      () => s.ofType("ack").length + s.ofType("error").length >= 6 || undefined,
      5000,
      "6 answers",
    );
    const errs = s.ofType("error");
    expect(errs.length).toBeGreaterThanOrEqual(2);
    for (const e of errs) {
      expect(e.code).toBe("rate_limited");
      expect(e.clientMessageId).toMatch(/^s\d$/);
    }
    const acked = s.ofType("ack").map((f) => f.clientMessageId);
    expect(new Set([...acked, ...errs.map((e) => e.clientMessageId)]).size).toBe(6);
    // A replay of an acked key past the limit is still acked with the original.
    s.send({ type: "send", clientMessageId: acked[0], body: acked[0] });
    await s.until(() => s.ofType("ack").length > acked.length || undefined, 3000, "replayed ack");
    expect(s.ofType("ack").at(-1)?.message.seq).toBe(s.ofType("ack")[0]?.message.seq);
  });

  it("a socket that keeps flooding is closed with 4008", async () => {
    const conv = await w.conversation(["fl-a", "fl-b"]);
    const s = await w.synced("fl-a", conv);
    const calm = await w.synced("fl-b", conv);
    for (let i = 0; i < 2000 && s.isOpen; i++) s.send({ type: "ping" });
    const closed = await Promise.race([
      s.closed,
      sleep(8000).then(() => ({ code: -1, reason: "still open" })),
    ]);
    expect(closed.code).toBe(4008);
    expect(calm.isOpen).toBe(true);
    // The flooder may resume.
    const again = await w.synced("fl-a", conv, { after: 0, _pk: uid("pk") });
    expect(again.isOpen).toBe(true);
  });
});
