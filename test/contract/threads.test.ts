/** Thread list (newest activity first, unread counts) and the live inbox socket. */
import { describe, expect, it } from "vitest";
import { api, type Json, WsClient } from "../helpers/clients.ts";
import { send, uid, useServer } from "../helpers/world.ts";

const w = useServer();

async function threads(user: string): Promise<Json[]> {
  const res = await (await w.as(user)).get("/v1/conversations");
  expect(res.status, res.text).toBe(200);
  expect(res.json).toHaveProperty("nextCursor");
  return res.json.conversations;
}

describe("thread list", () => {
  it("newest activity first; unread counts others' messages above lastReadSeq; reading lowers it", async () => {
    const me = uid("me");
    const other = uid("other");
    const [A, B, C] = [uid("A"), uid("B"), uid("C")];
    for (const id of [A, B, C]) await w.conversation([me, other], { id, title: `title ${id}` });
    const o = await w.as(other);
    const m = await w.as(me);
    await send(o, A, "a1");
    await send(o, B, "b1");
    await send(o, C, "c1");
    await send(o, A, "a2");

    let list = await threads(me);
    expect(list.map((t) => t.id)).toEqual([A, C, B]);
    const a = list[0];
    expect(a).toMatchObject({ id: A, title: `title ${A}`, lastSeq: 2, lastReadSeq: 0, unread: 2 });
    expect([...a.members].sort()).toEqual([me, other].sort());
    expect(a.lastMessage).toMatchObject({
      conversationId: A,
      seq: 2,
      senderId: other,
      clientMessageId: "a2",
    });
    expect(list.find((t) => t.id === B)).toMatchObject({ unread: 1, lastSeq: 1 });

    // My own message: B becomes newest, my message does not count as unread.
    await send(m, B, "mine");
    list = await threads(me);
    expect(list.map((t) => t.id)).toEqual([B, A, C]);
    const b = list[0];
    expect(b.lastMessage).toMatchObject({ senderId: me, clientMessageId: "mine", seq: 2 });
    // unread = messages from others above lastReadSeq (whatever lastReadSeq sending left behind)
    expect(b.unread).toBe(b.lastReadSeq >= 1 ? 0 : 1);
    // For the other user my message is unread, theirs are not.
    const theirs = await threads(other);
    expect(theirs.find((t) => t.id === B)).toMatchObject({ unread: 1 });
    expect(theirs.find((t) => t.id === A)).toMatchObject({ unread: 0 });

    // Reading lowers unread; the order does not change on a read.
    expect((await m.post(`/v1/conversations/${A}/read`, { seq: 1 })).status).toBe(204);
    list = await threads(me);
    expect(list.find((t) => t.id === A)).toMatchObject({ lastReadSeq: 1, unread: 1 });
    expect((await m.post(`/v1/conversations/${A}/read`, { seq: 2 })).status).toBe(204);
    list = await threads(me);
    expect(list.find((t) => t.id === A)).toMatchObject({ lastReadSeq: 2, unread: 0 });
    expect(list.map((t) => t.id)).toEqual([B, A, C]);
  });

  it("only own messages -> unread 0; a conversation without messages has lastMessage null", async () => {
    const me = uid("solo");
    const other = uid("peer");
    const own = await w.conversation([me, other]);
    const empty = await w.conversation([me, other]);
    const m = await w.as(me);
    for (let i = 0; i < 3; i++) await send(m, own, `own-${i}`);
    const list = await threads(me);
    expect(list.find((t) => t.id === own)).toMatchObject({ unread: 0, lastSeq: 3 });
    expect(list.find((t) => t.id === empty)).toMatchObject({ lastSeq: 0, unread: 0, lastMessage: null });
    // Conversations the user is not in are not listed.
    const outsider = await threads(uid("nobody"));
    expect(outsider).toEqual([]);
  });

  it("the thread list needs a user token", async () => {
    const res = await api(w.server.url, null).get("/v1/conversations");
    expect(res.status).toBe(401);
  });
});

describe("inbox socket", () => {
  it("gets a thread frame on a new message and on a read", async () => {
    const me = uid("in");
    const other = uid("io");
    const conv = await w.conversation([me, other]);
    const inbox = await w.inbox(me);
    await inbox.opened;
    await send(await w.as(other), conv, "hello");
    const t1 = await inbox.waitFor((f) => f.type === "thread" && f.conversation.lastSeq === 1, 5000);
    // The thread list (the source of truth) and the frame agree.
    expect((await threads(me)).find((t) => t.id === conv)).toMatchObject({ lastSeq: 1, unread: 1 });
    expect(t1.conversation).toMatchObject({
      id: conv,
      lastSeq: 1,
      unread: 1,
      lastReadSeq: 0,
      lastMessage: { seq: 1, senderId: other, clientMessageId: "hello" },
    });
    expect([...t1.conversation.members].sort()).toEqual([me, other].sort());

    expect((await (await w.as(me)).post(`/v1/conversations/${conv}/read`, { seq: 1 })).status).toBe(204);
    const t2 = await inbox.waitFor((f) => f.type === "thread" && f.conversation.lastReadSeq === 1, 5000);
    expect(t2.conversation).toMatchObject({ id: conv, unread: 0, lastSeq: 1 });

    // Messages in a conversation of someone else never show up here.
    const foreign = await w.conversation([other]);
    await send(await w.as(other), foreign, "not-for-me");
    await send(await w.as(other), conv, "second");
    await inbox.waitFor((f) => f.type === "thread" && f.conversation.lastSeq === 2, 5000);
    expect(inbox.ofType("thread").filter((f) => f.conversation.id === foreign)).toEqual([]);
    expect(inbox.ofType("thread").every((f) => f.conversation.id === conv)).toBe(true);
  });

  it("members' inboxes get a thread frame when someone is added or removed", async () => {
    const me = uid("im");
    const other = uid("io");
    const added = uid("ia");
    const conv = await w.conversation([me, other]);
    const inbox = await w.inbox(me);
    await inbox.opened;
    const sorted = (f: Json) => [...f.conversation.members].sort();
    expect((await w.admin.put(`/v1/conversations/${conv}/members/${added}`)).status).toBe(204);
    const joined = await inbox.waitFor(
      (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.members.includes(added),
      5000,
    );
    expect(sorted(joined)).toEqual([me, other, added].sort());
    expect((await w.admin.del(`/v1/conversations/${conv}/members/${other}`)).status).toBe(204);
    const left = await inbox.waitFor(
      (f) => f.type === "thread" && f.conversation.id === conv && !f.conversation.members.includes(other),
      5000,
    );
    expect(sorted(left)).toEqual([me, added].sort());
    // The thread list says the same.
    const item = (await threads(me)).find((t) => t.id === conv);
    expect([...(item?.members ?? [])].sort()).toEqual([me, added].sort());
  });

  it("another user's inbox closes with 4003; a bad token with 4001", async () => {
    const me = uid("iv");
    await w.conversation([me]);
    const spy = await w.inbox(me, uid("spy"));
    expect((await spy.closed).code).toBe(4003);
    const bad = w.track(WsClient.connect(w.server.wsUrl, `/parties/inbox/${me}`, { token: "garbage" }));
    expect((await bad.closed).code).toBe(4001);
    expect(spy.ofType("thread")).toEqual([]);
  });
});
