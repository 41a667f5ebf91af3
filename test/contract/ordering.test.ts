/** Ordering: concurrent senders get one gap-free sequence that every client sees the same way. */

import { describe, expect, it } from "vitest";
import type { Api, Message } from "../helpers/clients.ts";
import { history, ISO, range, send, uid, useServer } from "../helpers/world.ts";

// The rate limit is not under test here: 50 parallel sends per user would exceed the default burst.
const w = useServer({ env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" } });

describe("ordering under concurrent sends", () => {
  it("4 users x 50 parallel HTTP sends: seqs 1..200 gap-free, every socket sees all once, same order", async () => {
    const users = ["ord-a", "ord-b", "ord-c", "ord-d"];
    const conv = await w.conversation(users);
    const sockets = await Promise.all(users.map((u) => w.synced(u, conv)));
    // A second tab of the first user receives too.
    sockets.push(await w.synced(users[0] as string, conv, { _pk: "tab-2" }));
    const apis = await Promise.all(users.map((u) => w.as(u)));

    const results = await Promise.all(
      apis.flatMap((a, ui) =>
        range(1, 50).map(async (n) => {
          const res = await a.post(`/v1/conversations/${conv}/messages`, {
            clientMessageId: `u${ui}-m${n}`,
            body: `user ${ui} message ${n}`,
          });
          expect(res.status, res.text).toBe(201);
          return res.json.message;
        }),
      ),
    );
    const seqs = results.map((m) => m.seq as number).sort((x, y) => x - y);
    expect(seqs).toEqual(range(1, 200));

    // The requests were parallel, so no order is promised between them; but each seq is one key.
    const keyBySeq = new Map(results.map((m) => [m.seq as number, `${m.senderId}/${m.clientMessageId}`]));
    expect(new Set(keyBySeq.values()).size).toBe(200);

    for (const s of sockets) {
      const got = await s.waitForMessages(200, 10_000);
      expect(got).toEqual(range(1, 200));
    }
    // Same content in the same order on every socket.
    const views = sockets.map((s) =>
      s.ofType("message").map((f) => `${f.message.seq}:${f.message.senderId}:${f.message.clientMessageId}`),
    );
    for (const v of views) expect(v).toEqual(views[0]);
    // Fanned-out messages are the very messages the senders were answered with.
    const bySeq = new Map(results.map((m) => [m.seq, m]));
    for (const f of sockets[0]?.ofType("message") ?? []) expect(f.message).toEqual(bySeq.get(f.message.seq));

    const all = await history(apis[0] as Api, conv);
    expect(all.map((m) => m.seq)).toEqual(range(1, 200));
    expect(all.map((m) => `${m.senderId}/${m.clientMessageId}`)).toEqual(
      range(1, 200).map((s) => keyBySeq.get(s)),
    );
  });

  it("socket and HTTP sends interleave into one sequence; senders see their own messages", async () => {
    const users = ["mix-a", "mix-b"];
    const conv = await w.conversation(users);
    const sa = await w.synced("mix-a", conv);
    const sb = await w.synced("mix-b", conv);
    const b = await w.as("mix-b");
    for (let i = 0; i < 20; i++) sa.send({ type: "send", clientMessageId: `ws-${i}`, body: `ws ${i}` });
    await Promise.all(range(0, 19).map((i) => send(b, conv, `http-${i}`)));
    const acks = await sa.until(
      () => (sa.ofType("ack").length >= 20 ? sa.ofType("ack") : undefined),
      10_000,
      "acks",
    );
    expect(acks.map((f) => f.clientMessageId).sort()).toEqual(
      range(0, 19)
        .map((i) => `ws-${i}`)
        .sort(),
    );
    for (const s of [sa, sb]) expect(await s.waitForMessages(40, 10_000)).toEqual(range(1, 40));
    // Acks of one socket's sends are in submission order, so seqs increase with it.
    const ackSeqs = acks.map((f) => f.message.seq as number);
    expect([...ackSeqs].sort((x, y) => x - y)).toEqual(ackSeqs);
    // An ack is sent only after the message is durable: it carries the stored message.
    for (const f of acks) {
      expect(f.message).toMatchObject({
        conversationId: conv,
        senderId: "mix-a",
        clientMessageId: f.clientMessageId,
      });
    }
  });

  it("a message has the contract's shape", async () => {
    const conv = await w.conversation(["shape-a"]);
    const a = await w.as("shape-a");
    const res = await a.post(`/v1/conversations/${conv}/messages`, {
      clientMessageId: "k1",
      body: "hello",
      meta: { kind: "text", n: 1 },
    });
    expect(res.status).toBe(201);
    const m = res.json.message;
    expect(m).toMatchObject({
      id: expect.any(String),
      conversationId: conv,
      seq: 1,
      senderId: "shape-a",
      clientMessageId: "k1",
      body: "hello",
      meta: { kind: "text", n: 1 },
      createdAt: expect.any(String),
    });
    expect(m.createdAt).toMatch(ISO);
    expect(Math.abs(Date.parse(m.createdAt) - Date.now())).toBeLessThan(60_000);
    const hist = await history(a, conv);
    expect(hist).toEqual([m]);
  });

  it("separate conversations have separate sequences", async () => {
    const c1 = await w.conversation(["sep-a"]);
    const c2 = await w.conversation(["sep-a"]);
    const a = await w.as("sep-a");
    const m1 = await send(a, c1, uid("k"));
    const m2 = await send(a, c2, uid("k"));
    const m3 = await send(a, c1, uid("k"));
    expect([m1.seq, m2.seq, m3.seq]).toEqual([1, 1, 2]);
  });
});

describe("history paging", () => {
  it("after / before / limit / hasMore / latest page, always ascending", async () => {
    const conv = await w.conversation(["hist-a"]);
    const a = await w.as("hist-a");
    // Sent with the server key on behalf of the member (the contract's `senderId`).
    for (let i = 1; i <= 30; i++) {
      const res = await w.admin.post(`/v1/conversations/${conv}/messages`, {
        senderId: "hist-a",
        clientMessageId: `h${i}`,
        body: `h${i}`,
      });
      expect(res.status, res.text).toBe(201);
      expect(res.json.message.seq).toBe(i);
      expect(res.json.message.senderId).toBe("hist-a");
    }
    const base = `/v1/conversations/${conv}/messages`;

    const latest = await a.get(`${base}?limit=10`);
    expect(latest.status).toBe(200);
    expect(latest.json.messages.map((m: Message) => m.seq)).toEqual(range(21, 30));
    expect(latest.json.lastSeq).toBe(30);
    expect(latest.json.hasMore).toBe(true);

    const dflt = await a.get(base);
    expect(dflt.json.messages.map((m: Message) => m.seq)).toEqual(range(1, 30));
    expect(dflt.json.hasMore).toBe(false);

    const after = await a.get(`${base}?after=5&limit=10`);
    expect(after.json.messages.map((m: Message) => m.seq)).toEqual(range(6, 15));
    expect(after.json.hasMore).toBe(true);
    expect(after.json.lastSeq).toBe(30);

    const afterEnd = await a.get(`${base}?after=25&limit=10`);
    expect(afterEnd.json.messages.map((m: Message) => m.seq)).toEqual(range(26, 30));
    expect(afterEnd.json.hasMore).toBe(false);

    const none = await a.get(`${base}?after=30`);
    expect(none.json.messages).toEqual([]);
    expect(none.json.hasMore).toBe(false);
    expect(none.json.lastSeq).toBe(30);

    const before = await a.get(`${base}?before=20&limit=5`);
    expect(before.json.messages.map((m: Message) => m.seq)).toEqual(range(15, 19));
    expect(before.json.hasMore).toBe(true);

    const beforeStart = await a.get(`${base}?before=4&limit=10`);
    expect(beforeStart.json.messages.map((m: Message) => m.seq)).toEqual([1, 2, 3]);
    expect(beforeStart.json.hasMore).toBe(false);
  });

  it("limit is clamped to 200 and defaults to 50", async () => {
    const conv = await w.conversation(["clamp-a"]);
    const a = await w.as("clamp-a");
    const lanes = 10;
    await Promise.all(
      range(0, lanes - 1).map(async (lane) => {
        for (let i = 0; i < 21; i++) {
          await send(a, conv, `l${lane}-${i}`, "x");
        }
      }),
    );
    const base = `/v1/conversations/${conv}/messages`;
    const big = await a.get(`${base}?after=0&limit=1000`);
    expect(big.status).toBe(200);
    expect(big.json.messages.map((m: Message) => m.seq)).toEqual(range(1, 200));
    expect(big.json.hasMore).toBe(true);
    expect(big.json.lastSeq).toBe(210);
    const dflt = await a.get(`${base}?after=0`);
    expect(dflt.json.messages.map((m: Message) => m.seq)).toEqual(range(1, 50));
    const latest = await a.get(base);
    expect(latest.json.messages.map((m: Message) => m.seq)).toEqual(range(161, 210));
  });

  it("bad paging parameters are 400", async () => {
    const conv = await w.conversation(["badp-a"]);
    const a = await w.as("badp-a");
    for (const q of ["after=-1", "after=x", "before=abc", "limit=ten"]) {
      const res = await a.get(`/v1/conversations/${conv}/messages?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.json?.error?.code, q).toEqual(expect.any(String));
    }
  });
});
