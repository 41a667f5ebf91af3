/**
 * The conversation log (CONTRACT.md v1.1): changes are entries with their own seq, over HTTP and
 * the socket, with the contract's rules and refusals; `/log`, replies, and what reads show.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type Api, type Message, SseClient } from "../helpers/clients.ts";
import { expectError, history, range, send, uid, useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" } });
const streams: SseClient[] = [];
afterAll(async () => {
  await Promise.all(streams.map((s) => s.close()));
});

const msgs = (conv: string) => `/v1/conversations/${conv}/messages`;
const patch = (api: Api, path: string, body: unknown) => api.request("PATCH", path, body);
const react = (api: Api, conv: string, seq: number, key: string) =>
  api.put(`${msgs(conv)}/${seq}/reactions/${encodeURIComponent(key)}`);
const unreact = (api: Api, conv: string, seq: number, key: string) =>
  api.del(`${msgs(conv)}/${seq}/reactions/${encodeURIComponent(key)}`);

async function pair() {
  const [ann, bob] = [uid("ann"), uid("bob")];
  const conv = await w.conversation([ann, bob]);
  return { ann, bob, conv, a: await w.as(ann), b: await w.as(bob) };
}

describe("changes over HTTP", () => {
  it("edit: the sender changes body and meta; a change is an entry with its own seq; a no-op appends nothing", async () => {
    const { conv, a } = await pair();
    const m = await send(a, conv, "k1", "helo");
    const edited = await patch(a, `${msgs(conv)}/${m.seq}`, { body: "hello", meta: { fixed: true } });
    expect(edited.status).toBe(200);
    expect(edited.json.message).toMatchObject({
      seq: 1,
      body: "hello",
      meta: { fixed: true },
      replyCount: 0,
    });
    expect(typeof edited.json.message.editedAt).toBe("string");
    const log = await a.get(`/v1/conversations/${conv}/log?after=0`);
    expect(log.json.lastSeq).toBe(2);
    expect(log.json.entries.map((e: { type: string }) => e.type)).toEqual(["message", "change"]);
    expect(log.json.entries[1].change).toMatchObject({ seq: 2, target: 1, kind: "edit", body: "hello" });
    // The same content again: nothing appended, the same answer.
    const again = await patch(a, `${msgs(conv)}/${m.seq}`, { body: "hello", meta: { fixed: true } });
    expect(again.status).toBe(200);
    expect(again.json.message).toEqual(edited.json.message);
    expect((await a.get(`/v1/conversations/${conv}/log?after=0`)).json.lastSeq).toBe(2);
    // meta: null removes it.
    const bare = await patch(a, `${msgs(conv)}/${m.seq}`, { meta: null });
    expect(bare.json.message.meta).toBeUndefined();
    expect(bare.json.message.body).toBe("hello");
  });

  it("edit refusals: another member 403, the server key may, unknown seq 404, over the body limit 413, empty 400", async () => {
    const { conv, a, b } = await pair();
    const m = await send(a, conv, "k1", "mine");
    expectError(await patch(b, `${msgs(conv)}/${m.seq}`, { body: "hijack" }), 403, "forbidden");
    const byServer = await patch(w.admin, `${msgs(conv)}/${m.seq}`, { body: "moderated" });
    expect(byServer.status).toBe(200);
    expect(byServer.json.message.body).toBe("moderated");
    const log = await a.get(`/v1/conversations/${conv}/log?after=1`);
    expect(log.json.entries[0].change.userId).toBeNull();
    expectError(await patch(a, `${msgs(conv)}/99`, { body: "x" }), 404, "not_found");
    expectError(
      await patch(a, `${msgs(conv)}/${m.seq}`, { body: "x".repeat(16 * 1024 + 1) }),
      413,
      "too_large",
    );
    expectError(await patch(a, `${msgs(conv)}/${m.seq}`, {}), 400, "bad_request");
    expectError(await patch(a, `${msgs(conv)}/abc`, { body: "x" }), 400, "bad_request");
    // A change's seq is not a message: 404.
    expectError(await patch(a, `${msgs(conv)}/2`, { body: "x" }), 404, "not_found");
    // A non-member is refused before the body is read: 403 whatever it sends (found from outside).
    const zed = await w.as(uid("zed"));
    expectError(await patch(zed, `${msgs(conv)}/${m.seq}`, {}), 403, "forbidden");
    expectError(await patch(zed, `${msgs(conv)}/${m.seq}`, { body: 7 }), 403, "forbidden");
  });

  it("delete: a tombstone (body '', no meta); deleting again answers the same; an edit after it is 409", async () => {
    const { conv, a, b } = await pair();
    const posted = await a.post(msgs(conv), { clientMessageId: "k1", body: "secret", meta: { x: 1 } });
    expect(posted.status).toBe(201);
    const m = posted.json.message as Message;
    expectError(await b.del(`${msgs(conv)}/${m.seq}`), 403, "forbidden");
    const gone = await a.del(`${msgs(conv)}/${m.seq}`);
    expect(gone.status).toBe(200);
    expect(gone.json.message).toMatchObject({ seq: 1, body: "", deleted: true, reactions: {} });
    expect(gone.json.message.meta).toBeUndefined();
    const again = await a.del(`${msgs(conv)}/${m.seq}`);
    expect(again.json.message).toEqual(gone.json.message);
    expectError(await patch(a, `${msgs(conv)}/${m.seq}`, { body: "back" }), 409, "conflict");
    expectError(await react(b, conv, m.seq, "👍"), 409, "conflict");
    // Every read shows the tombstone; the text is sent by no path.
    const everything = JSON.stringify([
      (await a.get(`/v1/conversations/${conv}/log?after=0`)).json,
      await history(a, conv),
      (await a.get("/v1/conversations")).json,
    ]);
    expect(everything).not.toContain("secret");
    // The server key deletes anyone's message.
    const other = await send(b, conv, "k2", "spam");
    expect((await w.admin.del(`${msgs(conv)}/${other.seq}`)).json.message.deleted).toBe(true);
    // A retry of a deleted message's key is answered with the tombstone (its text is gone).
    const retry = await a.post(msgs(conv), { clientMessageId: "k1", body: "secret", meta: { x: 1 } });
    expect(retry.status).toBe(200);
    expect(retry.json.message).toMatchObject({ seq: 1, deleted: true });
  });

  it("reactions: any member, once per key and user, counted with the users; unreact; keys checked; caps", async () => {
    const { ann, bob, conv, a, b } = await pair();
    const m = await send(a, conv, "k1", "react to me");
    expect((await react(a, conv, m.seq, "👍")).status).toBe(200);
    const both = await react(b, conv, m.seq, "👍");
    expect(both.json.message.reactions).toEqual({ "👍": { count: 2, users: [ann, bob] } });
    // Again: nothing appended.
    const lastSeq = (await a.get(`/v1/conversations/${conv}/log?after=0`)).json.lastSeq;
    expect((await react(b, conv, m.seq, "👍")).json.message.reactions["👍"].count).toBe(2);
    expect((await a.get(`/v1/conversations/${conv}/log?after=0`)).json.lastSeq).toBe(lastSeq);
    const removed = await unreact(a, conv, m.seq, "👍");
    expect(removed.json.message.reactions).toEqual({ "👍": { count: 1, users: [bob] } });
    expect((await unreact(a, conv, m.seq, "👍")).status).toBe(200); // missing: nothing changes
    expect((await unreact(b, conv, m.seq, "👍")).json.message.reactions).toEqual({});
    // Keys: 1-32 bytes, no control characters; the server key does not react; non-members 403.
    expectError(await react(a, conv, m.seq, "x".repeat(33)), 400, "bad_request");
    expectError(await react(a, conv, m.seq, "a\u0007b"), 400, "bad_request");
    // A path segment whose escapes are not UTF-8 is refused, not kept as its escaped text; the
    // text "%FF" itself (sent escaped, %25FF) is a key like any other.
    const rawKey = (api: typeof a, method: "put" | "del", raw: string) =>
      api[method](`${msgs(conv)}/${m.seq}/reactions/${raw}`);
    for (const raw of ["%FF", "%C3%28", "%ED%A0%80"]) {
      expectError(await rawKey(a, "put", raw), 400, "bad_request");
      expectError(await rawKey(a, "del", raw), 400, "bad_request");
    }
    const literal = await rawKey(a, "put", "%25FF");
    expect(literal.json.message.reactions).toEqual({ "%FF": { count: 1, users: [ann] } });
    expect((await rawKey(a, "del", "%25FF")).json.message.reactions).toEqual({});
    expectError(await react(w.admin, conv, m.seq, "ok"), 403, "forbidden");
    expectError(await react(await w.as(uid("zed")), conv, m.seq, "ok"), 403, "forbidden");
    // Caps: 10 keys per user per message, 20 distinct keys per message.
    for (const i of range(1, 10)) expect((await react(a, conv, m.seq, `a${i}`)).status).toBe(200);
    expectError(await react(a, conv, m.seq, "a11"), 409, "conflict");
    for (const i of range(1, 10)) expect((await react(b, conv, m.seq, `b${i}`)).status).toBe(200);
    const carol = uid("carol");
    await w.admin.put(`/v1/conversations/${conv}/members/${carol}`);
    expectError(await react(await w.as(carol), conv, m.seq, "c1"), 409, "conflict");
    expect((await react(await w.as(carol), conv, m.seq, "a1")).status).toBe(200); // an existing key
  });

  it("replies: replyTo must exist; the parent's replyCount follows; GET …/replies lists them in order", async () => {
    const { conv, a, b } = await pair();
    const parent = await send(a, conv, "p", "question?");
    expectError(
      await b.post(msgs(conv), { clientMessageId: "bad", body: "x", replyTo: 42 }),
      400,
      "bad_request",
    );
    for (const i of range(1, 3)) {
      const r = await b.post(msgs(conv), {
        clientMessageId: `r${i}`,
        body: `answer ${i}`,
        replyTo: parent.seq,
      });
      expect(r.status).toBe(201);
      expect(r.json.message.replyTo).toBe(parent.seq);
    }
    const replies = await a.get(`${msgs(conv)}/${parent.seq}/replies?limit=2`);
    expect(replies.json.messages.map((m: Message) => m.body)).toEqual(["answer 1", "answer 2"]);
    expect(replies.json.hasMore).toBe(true);
    const rest = await a.get(`${msgs(conv)}/${parent.seq}/replies?after=${replies.json.messages[1].seq}`);
    expect(rest.json.messages.map((m: Message) => m.body)).toEqual(["answer 3"]);
    expect(rest.json.hasMore).toBe(false);
    const [first] = await history(a, conv);
    expect(first).toMatchObject({ seq: parent.seq, replyCount: 3 });
    expectError(await a.get(`${msgs(conv)}/77/replies`), 404, "not_found");
    // A deleted reply stays in the list as a tombstone and in the count (docs/CONTRACT.md).
    const second = replies.json.messages[1] as Message;
    expect((await b.del(`${msgs(conv)}/${second.seq}`)).status).toBe(200);
    const listed = (await a.get(`${msgs(conv)}/${parent.seq}/replies`)).json.messages as Message[];
    expect(listed.map((m) => [m.seq, m.deleted === true, m.body])).toEqual([
      [second.seq - 1, false, "answer 1"],
      [second.seq, true, ""],
      [second.seq + 1, false, "answer 3"],
    ]);
    expect((await history(a, conv))[0]).toMatchObject({ seq: parent.seq, replyCount: listed.length });
  });

  it("unread counts messages only: changes are never unread; history pages by message", async () => {
    const { ann, conv, a, b } = await pair();
    const m1 = await send(a, conv, "k1", "one");
    await send(a, conv, "k2", "two");
    await react(b, conv, m1.seq, "👀");
    await patch(a, `${msgs(conv)}/${m1.seq}`, { body: "one!" });
    const threads = (await b.get("/v1/conversations")).json.conversations;
    const row = threads.find((t: { id: string }) => t.id === conv);
    expect(row).toMatchObject({ unread: 2, lastSeq: 4 });
    expect(row.lastMessage.body).toBe("two");
    const page = await b.get(`${msgs(conv)}?after=0&limit=1`);
    expect(page.json.messages.map((m: Message) => m.body)).toEqual(["one!"]);
    expect(page.json.hasMore).toBe(true);
    const next = await b.get(`${msgs(conv)}?after=${page.json.messages[0].seq}&limit=5`);
    expect(next.json.messages.map((m: Message) => m.body)).toEqual(["two"]);
    expect(next.json.hasMore).toBe(false);
    // Reading up to a change seq is fine: nothing is unread any more.
    expect((await b.post(`/v1/conversations/${conv}/read`, { seq: 4 })).status).toBe(204);
    const after = (await b.get("/v1/conversations")).json.conversations.find(
      (t: { id: string }) => t.id === conv,
    );
    expect(after.unread).toBe(0);
    // And the sender never has own messages unread.
    const own = (await a.get("/v1/conversations")).json.conversations.find(
      (t: { id: string }) => t.id === conv,
    );
    expect(own.unread).toBe(0);
    void ann;
  });

  it("the thread list's lastMessage follows an edit or a deletion of the last message", async () => {
    const { conv, a, b } = await pair();
    await send(a, conv, "k1", "first");
    const last = await send(a, conv, "k2", "last");
    await patch(a, `${msgs(conv)}/${last.seq}`, { body: "last (edited)" });
    const row = async () =>
      (await b.get("/v1/conversations")).json.conversations.find((t: { id: string }) => t.id === conv);
    expect((await row()).lastMessage.body).toBe("last (edited)");
    await a.del(`${msgs(conv)}/${last.seq}`);
    expect((await row()).lastMessage).toMatchObject({ seq: last.seq, deleted: true, body: "" });
  });

  it("/log: member or server key; entries exactly as frames; hasMore; long-poll wakes on a change", async () => {
    const { conv, a, b } = await pair();
    const m = await send(a, conv, "k1", "hi");
    await react(b, conv, m.seq, "🎉");
    const byServer = await w.admin.get(`/v1/conversations/${conv}/log?after=0&limit=1`);
    expect(byServer.status).toBe(200);
    expect(byServer.json).toMatchObject({ lastSeq: 2, hasMore: true });
    expect(byServer.json.entries).toEqual([{ type: "message", message: byServer.json.entries[0].message }]);
    // Replay semantics: the message entry shows the latest state (with the reaction).
    expect(byServer.json.entries[0].message.reactions["🎉"].count).toBe(1);
    expectError(await (await w.as(uid("zed"))).get(`/v1/conversations/${conv}/log`), 403, "forbidden");
    const poll = b.get(`/v1/conversations/${conv}/log?after=2&wait=10`, { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 300));
    await patch(a, `${msgs(conv)}/${m.seq}`, { body: "hi!" });
    const woke = await poll;
    expect(woke.json.entries).toHaveLength(1);
    expect(woke.json.entries[0]).toMatchObject({
      type: "change",
      change: { seq: 3, kind: "edit" },
      message: { body: "hi!" },
    });
  });

  it("history's long-poll keeps waiting through changes and answers the next message (v1: until a message arrives)", async () => {
    const { conv, a, b } = await pair();
    const m = await send(a, conv, "k1", "hi");
    const started = Date.now();
    const poll = b.get(`${msgs(conv)}?after=${m.seq}&wait=10`, { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 300));
    // Two changes (seqs 2 and 3): neither is a message, so neither answers the poll.
    await react(b, conv, m.seq, "👍");
    await patch(a, `${msgs(conv)}/${m.seq}`, { body: "hi!" });
    await new Promise((r) => setTimeout(r, 700));
    let answered = false;
    void poll.then(() => {
      answered = true;
    });
    await new Promise((r) => setTimeout(r, 0));
    expect(answered).toBe(false);
    const next = await send(a, conv, "k2", "there");
    const woke = await poll;
    expect(woke.status).toBe(200);
    expect(woke.json.messages.map((x: Message) => x.seq)).toEqual([next.seq]);
    expect(woke.json.lastSeq).toBe(4);
    expect(Date.now() - started).toBeLessThan(10_000);
    // With nothing new, the poll still ends at its wait, empty, and a change alone does not end it
    // early either (a poll of 1 s that sees a change at 0.3 s answers after ~1 s).
    const short = b.get(`${msgs(conv)}?after=${next.seq}&wait=1`, { timeoutMs: 10_000 });
    const shortStarted = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    await unreact(b, conv, m.seq, "👍");
    const empty = await short;
    expect(empty.json).toMatchObject({ messages: [], lastSeq: 5, hasMore: false });
    expect(Date.now() - shortStarted).toBeGreaterThanOrEqual(900);
  });
});

describe("changes over the socket", () => {
  it("edit, react, unreact and delete frames are acked with their ref; refusals are error frames with it", async () => {
    const { ann, bob, conv, a } = await pair();
    const m = await send(a, conv, "k1", "hi");
    const sa = await w.synced(ann, conv);
    const sb = await w.synced(bob, conv);
    sa.send({ type: "edit", seq: m.seq, body: "hi all", ref: "e1" });
    const ack = await sa.waitFor((f) => f.type === "ack" && f.ref === "e1");
    expect(ack.message.body).toBe("hi all");
    // Everyone gets the change frame, with the state just after it.
    const seen = await sb.waitFor((f) => f.type === "change");
    expect(seen).toMatchObject({
      change: { seq: 2, target: 1, kind: "edit", userId: ann },
      message: { body: "hi all" },
    });
    sb.send({ type: "react", seq: m.seq, key: "👍", ref: "r1" });
    expect((await sb.waitFor((f) => f.type === "ack" && f.ref === "r1")).message.reactions["👍"].count).toBe(
      1,
    );
    sb.send({ type: "edit", seq: m.seq, body: "not mine", ref: "e2" });
    const refused = await sb.waitFor((f) => f.type === "error" && f.ref === "e2");
    expect(refused.code).toBe("forbidden");
    sb.send({ type: "unreact", seq: m.seq, key: "👍", ref: "u1" });
    expect((await sb.waitFor((f) => f.type === "ack" && f.ref === "u1")).message.reactions).toEqual({});
    sa.send({ type: "delete", seq: m.seq, ref: "d1" });
    expect((await sa.waitFor((f) => f.type === "ack" && f.ref === "d1")).message.deleted).toBe(true);
    sa.send({ type: "react", seq: 5, key: "x", ref: "bad" });
    expect((await sa.waitFor((f) => f.type === "error" && f.ref === "bad")).code).toBe("not_found");
    sa.send({ type: "edit", seq: 1, ref: "malformed", body: 5 });
    expect((await sa.waitFor((f) => f.type === "error" && f.ref === "malformed")).code).toBe("bad_frame");
    // An edit with nothing to set is malformed too (HTTP's 400), not a request the room refuses.
    sa.send({ type: "edit", seq: 1, ref: "empty" });
    const empty = await sa.waitFor((f) => f.type === "error" && f.ref === "empty");
    expect([empty.code, empty.message]).toEqual([
      "bad_frame",
      expect.stringContaining("an edit needs a body or a meta"),
    ]);
    // send with replyTo over the socket.
    sb.send({ type: "send", clientMessageId: "rep", body: "re", replyTo: 1 });
    expect((await sb.waitFor((f) => f.type === "ack" && f.clientMessageId === "rep")).message.replyTo).toBe(
      1,
    );
  });
});

describe("resume after changes", () => {
  it("a client offline while a message is edited, reacted to and deleted gets each change once, in order, on every transport", async () => {
    const { ann, bob, conv, a, b } = await pair();
    const m1 = await send(a, conv, "k1", "one");
    const m2 = await send(a, conv, "k2", "two");
    // Bob was at seq 2; while he is away:
    await patch(a, `${msgs(conv)}/${m1.seq}`, { body: "one (edited)" });
    await react(a, conv, m2.seq, "❤️");
    await a.del(`${msgs(conv)}/${m1.seq}`);
    await send(a, conv, "k3", "three");
    const expected = [
      { seq: 3, type: "change", kind: "edit" },
      { seq: 4, type: "change", kind: "react" },
      { seq: 5, type: "change", kind: "delete" },
      { seq: 6, type: "message" },
    ];
    // biome-ignore lint/suspicious/noExplicitAny: frames and log entries as the tests read them
    const shape = (f: any) =>
      f.type === "change"
        ? { seq: f.change?.seq, type: "change", kind: f.change?.kind }
        : { seq: f.message.seq, type: "message" };
    // WebSocket
    const ws = await w.synced(bob, conv, { after: 2 });
    const wsFrames = [...ws.ofType("change"), ...ws.ofType("message")].sort(
      (x, y) => (x.change?.seq ?? x.message.seq) - (y.change?.seq ?? y.message.seq),
    );
    expect(wsFrames.map(shape)).toEqual(expected);
    // Replay shows latest states: the edit of a deleted message carries no text.
    expect(JSON.stringify(wsFrames)).not.toContain("one (edited)");
    // SSE
    const token = await w.token(bob);
    const sse = new SseClient(`${w.server.url}/v1/conversations/${conv}/events?token=${token}&after=2`);
    streams.push(sse);
    await sse.ready;
    await sse.waitFor((e) => e.data.type === "synced");
    const sseEntries = sse.events.filter((e) => e.data.type === "change" || e.data.type === "message");
    expect(sseEntries.map((e) => shape(e.data as never))).toEqual(expected);
    expect(sseEntries.map((e) => Number(e.id))).toEqual([3, 4, 5, 6]);
    // Long-poll (/log)
    const polled = await b.get(`/v1/conversations/${conv}/log?after=2&wait=5`);
    expect(polled.json.entries.map(shape)).toEqual(expected);
    void ann;
  });
});
