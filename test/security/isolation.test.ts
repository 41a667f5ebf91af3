/**
 * Tenant isolation: a second app `acme` beside `default`. No read, write or socket crosses apps
 * (the same conversation id and the same user ids in both apps stay separate), acme's server key
 * cannot manage default's conversations, and a removed member's sockets close at once (4003).
 */
import { describe, expect, it } from "vitest";
import { type Api, api, mintToken, SseClient, WsClient } from "../helpers/clients.ts";
import { expectError, history, send, sleep, uid, useServer } from "../helpers/world.ts";
import { ACME, appsEnv } from "./kit.ts";

const w = useServer({ env: appsEnv });

/** acme's server key client. */
const acmeAdmin = (): Api => api(() => w.server.url, ACME.serverKey);
const acmeToken = (user: string) => mintToken(ACME.secret, user, { app: "acme" });
const acmeAs = async (user: string): Promise<Api> => api(() => w.server.url, await acmeToken(user));

async function acmeConversation(members: string[], id = uid("ac")): Promise<string> {
  const res = await acmeAdmin().post("/v1/conversations", { id, title: `acme ${id}`, members });
  expect(res.status, res.text).toBe(201);
  return id;
}

function acmeSocket(token: string, conv: string, query: Record<string, string | number> = {}): WsClient {
  return w.track(WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, { token, ...query }));
}

describe("the same conversation id and user ids in two apps", () => {
  it("stay two conversations: separate seqs, histories, members, titles and thread lists", async () => {
    const id = uid("shared");
    await w.conversation(["alice", "bob"], { id, title: "default side" });
    await acmeConversation(["alice", "carol"], id);
    const dAlice = await w.as("alice");
    const aAlice = await acmeAs("alice");
    for (let i = 0; i < 3; i++) await send(dAlice, id, `d${i}`, `default ${i}`);
    const a1 = await aAlice.post(`/v1/conversations/${id}/messages`, {
      clientMessageId: "d0",
      body: "acme 0",
    });
    expect(a1.status, a1.text).toBe(201);
    expect(a1.json.message.seq).toBe(1); // its own seq space, and the same key is a new key here
    const dHist = await history(dAlice, id);
    const aHist = await history(aAlice, id);
    expect(dHist.map((m) => m.body)).toEqual(["default 0", "default 1", "default 2"]);
    expect(aHist.map((m) => m.body)).toEqual(["acme 0"]);
    const dDesc = await dAlice.get(`/v1/conversations/${id}`);
    const aDesc = await aAlice.get(`/v1/conversations/${id}`);
    expect(dDesc.json.conversation).toMatchObject({ title: "default side", lastSeq: 3 });
    expect(aDesc.json.conversation).toMatchObject({ title: `acme ${id}`, lastSeq: 1 });
    expect(dDesc.json.conversation.members.map((m: { userId: string }) => m.userId).sort()).toEqual([
      "alice",
      "bob",
    ]);
    expect(aDesc.json.conversation.members.map((m: { userId: string }) => m.userId).sort()).toEqual([
      "alice",
      "carol",
    ]);
    // bob is a member only in default; carol only in acme.
    expectError(await (await acmeAs("bob")).get(`/v1/conversations/${id}/messages`), 403);
    expectError(await (await w.as("carol")).get(`/v1/conversations/${id}/messages`), 403);
    // Thread lists: each app's alice sees only her app's conversation.
    const dList = (await dAlice.get("/v1/conversations")).json.conversations.filter(
      (c: { id: string }) => c.id === id,
    );
    const aList = (await aAlice.get("/v1/conversations")).json.conversations.filter(
      (c: { id: string }) => c.id === id,
    );
    expect(dList).toHaveLength(1);
    expect(aList).toHaveLength(1);
    expect(dList[0].lastSeq).toBe(3);
    expect(aList[0].lastSeq).toBe(1);
    expect(aList[0].lastMessage.body).toBe("acme 0");
  });

  it("sockets, SSE and long-polls of one app never receive the other's messages, typing or presence", async () => {
    const id = uid("shared-live");
    await w.conversation(["alice", "bob", "erin"], { id });
    await acmeConversation(["alice", "bob", "erin"], id);
    const dSock = await w.synced("alice", id);
    const dErin = await w.synced("erin", id); // erin is online in default only
    const aSock = acmeSocket(await acmeToken("alice"), id);
    await aSock.waitFor((f) => f.type === "synced");
    const aSse = new SseClient(
      `${w.server.url}/v1/conversations/${id}/events?after=0&token=${await acmeToken("bob")}`,
    );
    await aSse.waitFor((e) => e.data.type === "synced");
    const aPoll = (await acmeAs("bob")).get(`/v1/conversations/${id}/messages?after=0&wait=3`, {
      timeoutMs: 8000,
    });
    const dBob = await w.as("bob");
    for (let i = 0; i < 5; i++) await send(dBob, id, `live${i}`, `default live ${i}`);
    await dBob.post(`/v1/conversations/${id}/typing`);
    await dSock.waitForMessages(5);
    const polled = await aPoll;
    expect(polled.status).toBe(200);
    expect(polled.json.messages).toEqual([]);
    expect(polled.json.lastSeq).toBe(0);
    // Now acme gets one message: only acme's transports see it.
    await send(await acmeAs("bob"), id, "acme-live", "acme live");
    await aSock.waitForMessages(1);
    await aSse.waitFor((e) => e.data.type === "message");
    await sleep(200);
    expect(aSock.frames.filter((f) => f.type === "message").map((f) => f.message.body)).toEqual([
      "acme live",
    ]);
    expect(aSse.events.filter((e) => e.data.type === "message").map((e) => e.data.message.body)).toEqual([
      "acme live",
    ]);
    expect(aSock.ofType("typing")).toEqual([]);
    expect(dSock.frames.filter((f) => f.type === "message").map((f) => f.message.body)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `default live ${i}`),
    );
    // Presence: erin, connected in default only, is not online in acme's conversation.
    const presence = await (await acmeAs("alice")).get(`/v1/conversations/${id}/presence`);
    expect(presence.json.online).not.toContain("erin");
    expect((await (await w.as("alice")).get(`/v1/conversations/${id}/presence`)).json.online).toContain(
      "erin",
    );
    expect(aSock.presenceViews().some((online) => online.includes("erin"))).toBe(false);
    expect(dErin.isOpen).toBe(true);
    aSse.close();
  });

  it("inbox sockets: acme alice's inbox gets no thread frame for default alice's conversations", async () => {
    const id = uid("shared-inbox");
    await w.conversation(["alice", "bob"], { id });
    await acmeConversation(["alice"], id);
    const aInbox = w.track(
      WsClient.connect(w.server.wsUrl, "/parties/inbox/alice", { token: await acmeToken("alice") }),
    );
    await aInbox.opened;
    const dInbox = await w.inbox("alice");
    await dInbox.opened;
    await sleep(100);
    await send(await w.as("bob"), id, "to-inbox", "default inbox");
    await dInbox.waitFor((f) => f.type === "thread" && f.conversation.id === id);
    await sleep(300);
    expect(aInbox.ofType("thread")).toEqual([]);
    // Someone else's inbox is not readable, in either app.
    const spy = w.track(
      WsClient.connect(w.server.wsUrl, "/parties/inbox/alice", { token: await acmeToken("mallory") }),
    );
    const closed = await Promise.race([spy.closed, sleep(2000).then(() => ({ code: -1, reason: "open" }))]);
    expect([4003, 4001]).toContain(closed.code);
  });
});

describe("credentials stay in their app", () => {
  it("acme's token on a conversation that exists only in default: 403/404 on every route, socket 4003/4004", async () => {
    const conv = await w.conversation(["alice"]);
    await send(await w.as("alice"), conv, "secret", "default only");
    const a = await acmeAs("alice");
    const p = `/v1/conversations/${conv}`;
    for (const res of [
      await a.get(p),
      await a.get(`${p}/messages`),
      await a.get(`${p}/messages?after=0&wait=1`),
      await a.post(`${p}/messages`, { clientMessageId: "x", body: "cross" }),
      await a.post(`${p}/typing`),
      await a.post(`${p}/read`, { seq: 1 }),
      await a.get(`${p}/presence`),
      await a.get(`${p}/events`),
    ]) {
      expect([403, 404], res.text).toContain(res.status);
      expect(res.text).not.toContain("default only");
    }
    const s = acmeSocket(await acmeToken("alice"), conv, { after: 0 });
    expect([4003, 4004]).toContain((await s.closed).code);
    expect(s.messages()).toEqual([]);
    expect((await history(await w.as("alice"), conv)).map((m) => m.body)).toEqual(["default only"]);
  });

  it("acme's server key cannot read, post to, add to, remove from or recreate default's conversations", async () => {
    const conv = await w.conversation(["alice", "bob"]);
    await send(await w.as("alice"), conv, "k1", "default message");
    const k = acmeAdmin();
    const p = `/v1/conversations/${conv}`;
    for (const res of [
      await k.get(p),
      await k.put(`${p}/members/mallory`),
      await k.del(`${p}/members/bob`),
      await k.post(`${p}/messages`, { senderId: "alice", clientMessageId: "forged", body: "forged" }),
    ]) {
      expect([403, 404], res.text).toContain(res.status);
      expect(res.text).not.toContain("default message");
    }
    // Creating the same id in acme makes an acme conversation, not a takeover.
    expect((await k.post("/v1/conversations", { id: conv, members: ["mallory"] })).status).toBe(201);
    const desc = await w.admin.get(p);
    expect(desc.json.conversation.members.map((m: { userId: string }) => m.userId).sort()).toEqual([
      "alice",
      "bob",
    ]);
    expectError(await (await w.as("mallory")).get(`${p}/messages`), 403);
    expect((await history(await w.as("bob"), conv)).map((m) => m.body)).toEqual(["default message"]);
    // Tokens minted by acme's key are acme tokens.
    const minted = await k.post("/v1/tokens", { userId: "alice" });
    expect(minted.status).toBe(201);
    const viaMinted = api(w.server.url, minted.json.token);
    expect((await viaMinted.get(`${p}/messages`)).json.messages ?? []).toEqual([]);
    const s = w.track(
      WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, { token: minted.json.token }),
    );
    await s.opened.catch(() => undefined);
    await sleep(200);
    expect(s.messages()).toEqual([]); // acme's own (empty) conversation of that id, if anything
    // And default's key acts on default's conversation of that id, never on acme's.
    expect((await w.admin.del(`${p}/members/mallory`)).status).toBe(204);
    const acmeDesc = await k.get(p);
    expect(acmeDesc.json.conversation.members.map((m: { userId: string }) => m.userId)).toEqual(["mallory"]);
  });
});

describe("removed members", () => {
  it("removing a member closes all their sockets (every tab) with 4003 at once; other members and apps stay", async () => {
    const id = uid("rm");
    await w.conversation(["alice", "bob"], { id });
    await acmeConversation(["bob"], id);
    const tabs = [
      await w.synced("bob", id, { _pk: "tab-1" }),
      await w.synced("bob", id, { _pk: "tab-2" }),
      await w.synced("bob", id),
    ];
    const alice = await w.synced("alice", id);
    const acmeBob = acmeSocket(await acmeToken("bob"), id);
    await acmeBob.waitFor((f) => f.type === "synced");
    const started = Date.now();
    expect((await w.admin.del(`/v1/conversations/${id}/members/bob`)).status).toBe(204);
    const closes = await Promise.all(tabs.map((t) => t.closed));
    const elapsed = Date.now() - started;
    for (const c of closes) expect(c.code).toBe(4003);
    expect(elapsed, "closed at once").toBeLessThan(1000);
    await sleep(200);
    expect(alice.isOpen).toBe(true);
    expect(acmeBob.isOpen, "bob's socket in acme's conversation of the same id stays open").toBe(true);
    await send(await w.as("alice"), id, "after", "after removal");
    await alice.waitForMessages(1);
    for (const t of tabs) expect(t.messages()).toEqual([]);
    // Removed in default; still a member in acme.
    expect((await (await acmeAs("bob")).get(`/v1/conversations/${id}/messages`)).status).toBe(200);
    expectError(await (await w.as("bob")).get(`/v1/conversations/${id}/messages`), 403);
  });

  it("removing a member in acme closes their acme socket (4003), not their default one", async () => {
    const id = uid("rm-acme");
    await w.conversation(["bob"], { id });
    await acmeConversation(["bob", "carol"], id);
    const dBob = await w.synced("bob", id);
    const aBob = acmeSocket(await acmeToken("bob"), id);
    await aBob.waitFor((f) => f.type === "synced");
    expect((await acmeAdmin().del(`/v1/conversations/${id}/members/bob`)).status).toBe(204);
    expect((await aBob.closed).code).toBe(4003);
    await sleep(200);
    expect(dBob.isOpen).toBe(true);
  });
});
