/** Credentials and membership: 401/403/404 over HTTP, 4001/4003/4004 on sockets. */
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { Json } from "../helpers/clients.ts";
import { api, mintToken, unsignedToken, WsClient } from "../helpers/clients.ts";
import { expectError, send, uid, useServer } from "../helpers/world.ts";

const w = useServer();

/** Tokens that must all be refused, built for user `sub`. */
async function badTokens(sub: string): Promise<Record<string, string | null>> {
  const secret = w.server.secret;
  const now = Math.floor(Date.now() / 1000);
  const otherSecret = new TextEncoder().encode("a-completely-different-secret-of-32+bytes!!");
  return {
    none: null,
    garbage: "not-a-jwt",
    "bad signature": await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(sub)
      .setExpirationTime(now + 3600)
      .sign(otherSecret),
    "expired (2 min ago, beyond leeway)": await mintToken(secret, sub, { expiresIn: -120 }),
    "missing exp": await mintToken(secret, sub, { noExp: true }),
    "alg none": unsignedToken(sub),
    "HS512 with the right secret (algorithm not pinned)": await new SignJWT({})
      .setProtectedHeader({ alg: "HS512" })
      .setSubject(sub)
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode(secret)),
    "missing sub": await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode(secret)),
    "unknown app": await mintToken(secret, sub, { app: "no-such-app" }),
  };
}

describe("bad credentials", () => {
  it("HTTP: every bad token is 401 with the error shape, on user routes", async () => {
    const conv = await w.conversation(["auth-a"]);
    for (const [name, tok] of Object.entries(await badTokens("auth-a"))) {
      const a = api(w.server.url, tok);
      expectError(await a.get("/v1/conversations"), 401);
      const res = await a.post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: uid("k"),
        body: name,
      });
      expect(res.status, name).toBe(401);
      expectError(res, 401);
      expectError(await a.get(`/v1/conversations/${conv}/messages`), 401);
    }
    // The good token works (so the refusals above are about the token).
    const ok = await (await w.as("auth-a")).get(`/v1/conversations/${conv}/messages`);
    expect(ok.status).toBe(200);
  });

  it("socket: every bad token is closed with 4001", async () => {
    const conv = await w.conversation(["auth-ws"]);
    const cases = Object.entries(await badTokens("auth-ws"));
    const closes = await Promise.all(
      cases.map(async ([name, tok]) => {
        const c = w.track(
          WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, { token: tok ?? undefined }),
        );
        const info = await c.closed;
        return { name, code: info.code, http: c.unexpectedStatus, frames: c.frames.length };
      }),
    );
    for (const c of closes) {
      expect(c, c.name).toMatchObject({ code: 4001, http: null });
      expect(c.frames, `${c.name}: no frames before the close`).toBe(0);
    }
  });

  it("the wrong server key is 401; a user token on server-key routes is 403", async () => {
    const conv = await w.conversation(["sk-a"]);
    const wrong = api(w.server.url, "sk_wrong_key_0000000000000000");
    expectError(await wrong.post("/v1/conversations", { members: ["x"] }), 401);
    expectError(await wrong.put(`/v1/conversations/${conv}/members/x`), 401);
    const user = await w.as("sk-a");
    expectError(await user.post("/v1/conversations", { id: uid("c"), members: ["sk-a"] }), 403);
    expectError(await user.put(`/v1/conversations/${conv}/members/intruder`), 403);
    expectError(await user.del(`/v1/conversations/${conv}/members/sk-a`), 403);
    expectError(await api(w.server.url, null).post("/v1/conversations", { members: ["x"] }), 401);
    // and the member is still a member
    expect((await user.get(`/v1/conversations/${conv}`)).status).toBe(200);
  });
});

describe("conversations and membership", () => {
  it("create: 201 with the conversation; an existing id is 409; id is generated when absent", async () => {
    const id = uid("c");
    const res = await w.admin.post("/v1/conversations", { id, title: "Hello", members: ["cm-a", "cm-b"] });
    expect(res.status).toBe(201);
    expect(res.json.conversation).toMatchObject({ id, title: "Hello" });
    expectError(await w.admin.post("/v1/conversations", { id, members: ["cm-a"] }), 409);
    const gen = await w.admin.post("/v1/conversations", { members: ["cm-a"] });
    expect(gen.status).toBe(201);
    expect(gen.json.conversation.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(gen.json.conversation.id).not.toBe(id);
  });

  it("create: bad ids and members are 400", async () => {
    for (const body of [
      { id: "has space", members: ["a"] },
      { id: "x".repeat(65), members: ["a"] },
      { id: "slash/no", members: ["a"] },
      { id: uid("c"), members: ["bad user!"] },
      { id: uid("c"), members: "a" },
      { id: uid("c"), members: ["u".repeat(129)] },
    ]) {
      expectError(await w.admin.post("/v1/conversations", body), 400);
    }
    // All the legal characters of ids work.
    const id = `Az09_-${uid("ok")}`;
    const res = await w.admin.post("/v1/conversations", { id, members: ["a.b:c@d|e+f-g_h"] });
    expect(res.status, res.text).toBe(201);
  });

  it("GET conversation: members with lastReadSeq, for members and the server key", async () => {
    const conv = await w.conversation(["gc-a", "gc-b"], { title: "T" });
    const got = await (await w.as("gc-a")).get(`/v1/conversations/${conv}`);
    expect(got.status).toBe(200);
    expect(got.json.conversation).toMatchObject({ id: conv, title: "T", lastSeq: 0 });
    const members = (got.json.conversation.members as Json[]).map((m) => m.userId).sort();
    expect(members).toEqual(["gc-a", "gc-b"]);
    for (const m of got.json.conversation.members) expect(m.lastReadSeq).toBe(0);
    const viaKey = await w.admin.get(`/v1/conversations/${conv}`);
    expect(viaKey.status).toBe(200);
    expect(viaKey.json.conversation.id).toBe(conv);
  });

  it("non-member: 403 on every member route, socket 4003", async () => {
    const conv = await w.conversation(["nm-a"]);
    const out = await w.as("nm-outsider");
    const p = `/v1/conversations/${conv}`;
    expectError(await out.get(p), 403);
    expectError(await out.get(`${p}/messages`), 403);
    expectError(await out.post(`${p}/messages`, { clientMessageId: "k", body: "x" }), 403);
    expectError(await out.post(`${p}/typing`), 403);
    expectError(await out.post(`${p}/read`, { seq: 0 }), 403);
    expectError(await out.get(`${p}/presence`), 403);
    expectError(await out.get(`${p}/events`), 403);
    const s = await w.socket("nm-outsider", conv);
    expect((await s.closed).code).toBe(4003);
    expect(s.messages()).toEqual([]);
  });

  it("unknown conversation: 404 on every route, socket 4004", async () => {
    const a = await w.as("nf-a");
    const p = `/v1/conversations/${uid("missing")}`;
    expectError(await a.get(p), 404);
    expectError(await a.get(`${p}/messages`), 404);
    expectError(await a.post(`${p}/messages`, { clientMessageId: "k", body: "x" }), 404);
    expectError(await a.post(`${p}/typing`), 404);
    expectError(await a.post(`${p}/read`, { seq: 0 }), 404);
    expectError(await a.get(`${p}/presence`), 404);
    expectError(await a.get(`${p}/events`), 404);
    expectError(await w.admin.put(`${p}/members/nf-a`), 404);
    const s = await w.socket("nf-a", uid("missing"));
    expect((await s.closed).code).toBe(4004);
  });

  it("add member (idempotent 204) grants access; remove (204) closes their socket with 4003 and refuses HTTP", async () => {
    const conv = await w.conversation(["mm-a"]);
    const b = await w.as("mm-b");
    expectError(await b.get(`/v1/conversations/${conv}/messages`), 403);
    expect((await w.admin.put(`/v1/conversations/${conv}/members/mm-b`)).status).toBe(204);
    expect((await w.admin.put(`/v1/conversations/${conv}/members/mm-b`)).status).toBe(204);
    const info = await w.admin.get(`/v1/conversations/${conv}`);
    expect((info.json.conversation.members as Json[]).filter((m) => m.userId === "mm-b").length).toBe(1);
    expect((await b.get(`/v1/conversations/${conv}/messages`)).status).toBe(200);

    const sb = await w.synced("mm-b", conv);
    const sb2 = await w.synced("mm-b", conv, { _pk: "second-tab" });
    const sa = await w.synced("mm-a", conv);
    await send(b, conv, "hello");
    await sb.waitForMessages(1);
    expect((await w.admin.del(`/v1/conversations/${conv}/members/mm-b`)).status).toBe(204);
    expect((await sb.closed).code).toBe(4003);
    expect((await sb2.closed).code).toBe(4003);
    // The remaining member is untouched.
    await send(await w.as("mm-a"), conv, "after-removal");
    await sa.waitForMessages(2);
    expect(sa.isOpen).toBe(true);
    expect(sb.messages()).toEqual([1]);
    expectError(await b.get(`/v1/conversations/${conv}/messages`), 403);
    expectError(
      await b.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "again", body: "x" }),
      403,
    );
    const reconnect = await w.socket("mm-b", conv);
    expect((await reconnect.closed).code).toBe(4003);
  });

  it("the server key posts as a member with senderId", async () => {
    const conv = await w.conversation(["skp-a"]);
    const res = await w.admin.post(`/v1/conversations/${conv}/messages`, {
      senderId: "skp-a",
      clientMessageId: "k1",
      body: "from the back end",
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json.message).toMatchObject({ senderId: "skp-a", seq: 1 });
  });

  it("dev mode: GET /v1/dev/token gives a working token", async () => {
    const conv = await w.conversation(["dev-a"]);
    const res = await fetch(`${w.server.url}/v1/dev/token?user=dev-a`);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    expect(token).toEqual(expect.any(String));
    expect((await api(w.server.url, token).get(`/v1/conversations/${conv}/messages`)).status).toBe(200);
    // Without ?user= it says what is missing (it said "expected string, received undefined").
    const missing = await fetch(`${w.server.url}/v1/dev/token`);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toBe(
      "say whose token: ?user=<user id>",
    );
  });
});
