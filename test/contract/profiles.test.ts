/**
 * User profiles (issue 15): a display name and a picture per user, set with the server key
 * (`PUT /v1/users/:userId/profile`) or by a user token's `name` / `picture` claims, and sent by
 * reference: answers that name users carry a `users` map beside their rows.
 */
import { describe, expect, it } from "vitest";
import { api, type Json, mintToken, WsClient } from "../helpers/clients.ts";
import { eventually, expectError, send, uid, useServer } from "../helpers/world.ts";

const w = useServer();

const profilePath = (user: string) => `/v1/users/${encodeURIComponent(user)}/profile`;
const PIC = "https://images.example.com/sam.png";

async function profileOf(user: string): Promise<Json> {
  const res = await w.admin.get(profilePath(user));
  expect(res.status, res.text).toBe(200);
  return res.json.profile;
}

/** Waits (bounded) until `user`'s stored profile is `expected`: token claims are written just after admission. */
async function profileBecomes(user: string, expected: { name: string | null; picture: string | null }) {
  await eventually(async () => JSON.stringify(await profileOf(user)) === JSON.stringify(expected)).catch(
    () => undefined,
  );
  expect(await profileOf(user)).toEqual(expected);
}

describe("setting profiles", () => {
  it("the server key sets, keeps what is left out, and clears with null", async () => {
    const sam = uid("sam");
    expect(await profileOf(sam)).toEqual({ name: null, picture: null });
    let res = await w.admin.put(profilePath(sam), { name: "Sam Example", picture: PIC });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ profile: { name: "Sam Example", picture: PIC } });
    res = await w.admin.put(profilePath(sam), { name: "Sam" });
    expect(res.json.profile).toEqual({ name: "Sam", picture: PIC });
    res = await w.admin.put(profilePath(sam), { picture: null });
    expect(res.json.profile).toEqual({ name: "Sam", picture: null });
    expect(await profileOf(sam)).toEqual({ name: "Sam", picture: null });
    res = await w.admin.put(profilePath(sam), { name: null });
    expect(await profileOf(sam)).toEqual({ name: null, picture: null });
  });

  it("refuses bad names, pictures and bodies with 400", async () => {
    const user = uid("v");
    const bad: unknown[] = [
      {},
      { name: "" },
      { name: "   " },
      { name: "x".repeat(65) },
      { name: "line\nbreak" },
      { name: "bell\u0007" },
      { name: "rtl\u202eoverride" },
      { name: 42 },
      { picture: "javascript:alert(1)" },
      { picture: "ftp://example.com/a.png" },
      { picture: "/relative.png" },
      { picture: "https://user:pw@example.com/a.png" },
      { picture: `https://example.com/${"a".repeat(2048)}` },
      { name: "ok", extra: true },
      [],
      "name",
    ];
    for (const body of bad) expectError(await w.admin.put(profilePath(user), body), 400, "bad_request");
    expectError(await w.admin.put(profilePath("not a valid id!"), { name: "x" }), 400);
    // 64 characters (not bytes) is fine, emoji included.
    const long = `${"é".repeat(63)}🙂`;
    expect((await w.admin.put(profilePath(user), { name: long })).status).toBe(200);
    expect(await profileOf(user)).toEqual({ name: long, picture: null });
  });

  it("a user token cannot set profiles (its own or others'); it reads only its own", async () => {
    const me = uid("me");
    const other = uid("other");
    const mine = await w.as(me);
    expectError(await mine.put(profilePath(other), { name: "Mallory" }), 403, "forbidden");
    expectError(await mine.put(profilePath(me), { name: "Me" }), 403, "forbidden");
    expectError(await api(w.server.url, null).put(profilePath(me), { name: "Me" }), 401);
    expectError(await api(w.server.url, "wrong-key").put(profilePath(me), { name: "Me" }), 401);
    expect(await profileOf(other)).toEqual({ name: null, picture: null });
    expect((await mine.get(profilePath(me))).status).toBe(200);
    expectError(await mine.get(profilePath(other)), 403, "forbidden");
  });

  it("a token's name and picture claims update the profile (and leave out what they do not carry)", async () => {
    const user = uid("claims");
    const t1 = await mintToken(w.server.secret, user, { name: "Claire", picture: PIC });
    expect((await api(w.server.url, t1).get("/v1/conversations")).status).toBe(200);
    await profileBecomes(user, { name: "Claire", picture: PIC });
    // A later token with another name: the picture stays.
    const t2 = await mintToken(w.server.secret, user, { name: "Claire B.", expiresIn: 3000 });
    expect((await api(w.server.url, t2).get("/v1/conversations")).status).toBe(200);
    await profileBecomes(user, { name: "Claire B.", picture: PIC });
    // Invalid claims are ignored; the token still works.
    const t3 = await mintToken(w.server.secret, user, {
      name: "x".repeat(100),
      picture: "javascript:1",
      expiresIn: 2000,
    });
    expect((await api(w.server.url, t3).get("/v1/conversations")).status).toBe(200);
    const conv = await w.conversation([user]);
    // A socket admits a token too.
    const t4 = await mintToken(w.server.secret, user, { name: "Claire C.", expiresIn: 1000 });
    const socket = w.track(WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, { token: t4 }));
    await socket.waitFor((f) => f.type === "synced", 5000, "synced");
    await profileBecomes(user, { name: "Claire C.", picture: PIC });
  });
});

describe("POST /v1/tokens with profile claims", () => {
  it("refuses a name or picture the profile would not take (400 naming it), instead of a token whose claims are ignored", async () => {
    const user = uid("minted");
    for (const [claims, what] of [
      [{ name: "N".repeat(100) }, /name is 1-64 characters/],
      [{ name: "bad\u0007bell" }, /control or format characters/],
      [{ picture: "ftp://cdn.example.com/a.png" }, /picture must be an http\(s\) URL/],
      [{ picture: "javascript:alert(1)" }, /picture must be an http\(s\) URL/],
    ] as const) {
      const res = await w.admin.post("/v1/tokens", { userId: user, ...claims });
      expectError(res, 400, "bad_request");
      expect(res.json.error.message, JSON.stringify(claims)).toMatch(what);
    }
    // Valid claims mint a token that sets the profile when it is used.
    const minted = await w.admin.post("/v1/tokens", { userId: user, name: "Minnie", picture: PIC });
    expect(minted.status, minted.text).toBe(201);
    expect((await api(w.server.url, minted.json.token).get("/v1/conversations")).status).toBe(200);
    await profileBecomes(user, { name: "Minnie", picture: PIC });
  });
});

describe("profiles by reference", () => {
  it("history, the log, replies, the conversation and the thread list carry a users map", async () => {
    const [sam, ana, nobody] = [uid("sam"), uid("ana"), uid("nobody")];
    await w.admin.put(profilePath(sam), { name: "Sam", picture: PIC });
    await w.admin.put(profilePath(ana), { name: "Ana" });
    const conv = await w.conversation([sam, ana, nobody]);
    const s = await w.as(sam);
    const a = await w.as(ana);
    const first = await send(s, conv, "m1", "hello");
    const reply = await a.post(`/v1/conversations/${conv}/messages`, {
      clientMessageId: "m2",
      body: "hi",
      replyTo: first.seq,
    });
    expect(reply.status, reply.text).toBe(201);
    expect(
      (await a.put(`/v1/conversations/${conv}/messages/${first.seq}/reactions/%F0%9F%91%8D`)).status,
    ).toBe(200);
    const both = { [sam]: { name: "Sam", picture: PIC }, [ana]: { name: "Ana", picture: null } };

    const hist = await s.get(`/v1/conversations/${conv}/messages`);
    expect(hist.json.messages).toHaveLength(2);
    expect(hist.json.users).toEqual(both);
    // Not copied into the messages.
    expect(JSON.stringify(hist.json.messages)).not.toContain("Sam");

    const log = await s.get(`/v1/conversations/${conv}/log`);
    expect(log.json.entries.map((e: Json) => e.type)).toEqual(["message", "message", "change"]);
    expect(log.json.users).toEqual(both);
    const serverLog = await w.admin.get(`/v1/conversations/${conv}/log`);
    expect(serverLog.json.users).toEqual(both);

    const replies = await s.get(`/v1/conversations/${conv}/messages/${first.seq}/replies`);
    expect(replies.json.messages).toHaveLength(1);
    expect(replies.json.users).toEqual({ [ana]: both[ana] });

    const info = await s.get(`/v1/conversations/${conv}`);
    expect(info.json.conversation.members).toHaveLength(3);
    expect(info.json.users).toEqual(both);

    const list = await (await w.as(nobody)).get("/v1/conversations");
    expect(list.json.conversations.map((t: Json) => t.id)).toContain(conv);
    expect(list.json.users).toEqual(both);
    expect(list.json.conversations[0]).not.toHaveProperty("users");
  });

  it("answers that name nobody with a profile have no users field (as in v1)", async () => {
    const [x, y] = [uid("x"), uid("y")];
    const conv = await w.conversation([x, y]);
    await send(await w.as(x), conv, "m1");
    const hist = await (await w.as(y)).get(`/v1/conversations/${conv}/messages`);
    expect(hist.json).not.toHaveProperty("users");
    expect((await (await w.as(y)).get(`/v1/conversations/${conv}`)).json).not.toHaveProperty("users");
  });

  it("a changed profile shows in the next answer", async () => {
    const [p, q] = [uid("p"), uid("q")];
    const conv = await w.conversation([p, q]);
    await send(await w.as(p), conv, "m1");
    await w.admin.put(profilePath(p), { name: "Pat" });
    const reader = await w.as(q);
    expect((await reader.get(`/v1/conversations/${conv}/messages`)).json.users).toEqual({
      [p]: { name: "Pat", picture: null },
    });
    await w.admin.put(profilePath(p), { name: "Patricia" });
    expect((await reader.get(`/v1/conversations/${conv}/messages`)).json.users[p].name).toBe("Patricia");
  });
});

describe("the OpenAPI document", () => {
  it("describes the profile routes and the users maps", async () => {
    const doc = (await api(w.server.url, null).get("/v1/openapi.json")).json;
    const route = doc.paths["/v1/users/{userId}/profile"];
    expect(route.put.operationId).toBe("setProfile");
    expect(route.get.operationId).toBe("getProfile");
    expect(doc.components.schemas.Profile).toBeDefined();
    expect(doc.components.schemas.Users).toBeDefined();
  });
});
