/**
 * `parley/server` against a real relay: every method once, the relay's errors as
 * `ParleyApiError`s, a webhook received by a real HTTP server and verified by the helper, and a
 * token the helper signed admitted by the relay over a real WebSocket.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import {
  type LogPage,
  ParleyApiError,
  ParleyServer,
  signUserToken,
  verifyWebhook,
  type WebhookEvent,
} from "../../server/index.ts";
import { WsClient } from "../helpers/clients.ts";
import { repoRoot } from "../helpers/server.ts";
import { eventually, uid, useServer } from "../helpers/world.ts";

// A send rate of 1 a second with a burst of 2: the third quick send as one member is a 429.
const w = useServer({
  env: { PARLEY_SEND_RATE: "1", PARLEY_SEND_BURST: "2", PARLEY_MAX_MESSAGE_BYTES: "1024" },
});
const parley = () => new ParleyServer({ baseUrl: w.server.url, serverKey: w.server.serverKey });

/** The error a promise rejects with (fails the test when it resolves). */
async function refusal(promise: Promise<unknown>): Promise<ParleyApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ParleyApiError);
  return error as ParleyApiError;
}

describe("every server-key route", () => {
  it("creates, reads, manages members, sends, edits, deletes and reads the log", async () => {
    const api = parley();
    await api.health();
    // A user id with characters that must be escaped in a path.
    const [ann, bot, cy] = [uid("ann"), `bot|${uid("sys")}@x`, uid("cy")];
    const id = uid("c");
    const created = await api.createConversation({ id, title: "Support", members: [ann, bot] });
    expect(created).toMatchObject({ id, title: "Support", lastSeq: 0 });
    expect(typeof created.createdAt).toBe("string");

    await api.addMember(id, cy);
    await api.addMember(id, cy); // idempotent
    let view = await api.getConversation(id);
    expect(view.members.map((m) => m.userId).sort()).toEqual([ann, bot, cy].sort());
    await api.removeMember(id, cy);
    view = await api.getConversation(id);
    expect(view.members.map((m) => m.userId).sort()).toEqual([ann, bot].sort());

    const first = await api.sendMessage(id, { senderId: bot, body: "Welcome!", meta: { kind: "system" } });
    expect(first.created).toBe(true);
    expect(first.message).toMatchObject({
      seq: 1,
      senderId: bot,
      body: "Welcome!",
      meta: { kind: "system" },
    });
    const again = await api.sendMessage(id, {
      senderId: bot,
      body: "Welcome!",
      meta: { kind: "system" },
      clientMessageId: first.message.clientMessageId,
    });
    expect(again).toEqual({ message: first.message, created: false });

    const edited = await api.editMessage(id, 1, { body: "Welcome aboard!" });
    expect(edited).toMatchObject({ seq: 1, body: "Welcome aboard!" });
    expect(typeof edited.editedAt).toBe("string");
    const reply = await api.sendMessage(id, { senderId: ann, body: "thanks", replyTo: 1 });
    const gone = await api.deleteMessage(id, reply.message.seq);
    expect(gone).toMatchObject({ deleted: true, body: "" });

    const page: LogPage = await api.log(id, { after: 0, limit: 10 });
    expect(
      page.entries.map((e) => (e.type === "change" ? `${e.change.kind}:${e.change.target}` : "message")),
    ).toEqual(["message", "edit:1", "message", "delete:3"]);
    expect(page.lastSeq).toBe(4);
    expect((await api.log(id, { after: 2, limit: 1 })).entries).toHaveLength(1);
  });

  it("mints a token the relay accepts, and signs one itself that a real WebSocket is admitted with", async () => {
    const api = parley();
    const [ann, bob] = [uid("ann"), uid("bob")];
    const id = uid("c");
    await api.createConversation({ id, members: [ann, bob] });
    const minted = await api.mintToken({ userId: ann, name: "Ann", ttlSeconds: 600 });
    const threads = await fetch(`${w.server.url}/v1/conversations`, {
      headers: { authorization: `Bearer ${minted}` },
    });
    expect(threads.status).toBe(200);

    const signed = await signUserToken({
      secret: w.server.secret,
      userId: bob,
      name: "Bob",
      picture: "https://cdn.example.com/bob.png",
      expiresIn: "10m",
    });
    const socket = w.track(
      WsClient.connect(w.server.wsUrl, `/parties/conversation/${id}`, { token: signed }),
    );
    await socket.waitFor((f) => f.type === "synced", 5000, "synced");
    await api.sendMessage(id, { senderId: ann, body: "to bob" });
    const frame = await socket.waitFor((f) => f.type === "message", 5000, "the message");
    expect(frame.message).toMatchObject({ senderId: ann, body: "to bob" });
    // The token's claims became Bob's profile; the helper reads and changes it.
    expect(await api.getProfile(bob)).toEqual({ name: "Bob", picture: "https://cdn.example.com/bob.png" });
    expect(await api.setProfile(bob, { name: "Robert", picture: null })).toEqual({
      name: "Robert",
      picture: null,
    });
    expect(await api.getProfile(bob)).toEqual({ name: "Robert", picture: null });
    await expect(api.setProfile(bob, { picture: "javascript:alert(1)" })).rejects.toMatchObject({
      status: 400,
      code: "bad_request",
    });

    // A token for another app, or signed with another secret, is refused: the relay checks it.
    const forged = await signUserToken({ secret: "x".repeat(32), userId: bob, expiresIn: 60 });
    const refused = WsClient.connect(w.server.wsUrl, `/parties/conversation/${id}`, { token: forged });
    expect((await refused.closed).code).toBe(4001);
    await expect(signUserToken({ secret: "short", userId: bob, expiresIn: 60 })).rejects.toThrow(/32 bytes/);
    await expect(
      signUserToken({ secret: w.server.secret, userId: "no spaces", expiresIn: 60 }),
    ).rejects.toThrow(/userId/);
  });
});

describe("errors", () => {
  it("maps 404, 409, 400, 401, 413 and 429 to ParleyApiError with the relay's code and message", async () => {
    const api = new ParleyServer({ baseUrl: w.server.url, serverKey: w.server.serverKey, retries: 0 });
    const missing = await refusal(api.getConversation(uid("nope")));
    expect(missing).toMatchObject({ status: 404, code: "not_found" });
    expect(missing.message.length).toBeGreaterThan(0);

    const [ann, bob] = [uid("ann"), uid("bob")];
    const id = uid("c");
    await api.createConversation({ id, members: [ann] });
    expect(await refusal(api.createConversation({ id: "not a valid id", members: [] }))).toMatchObject({
      status: 400,
      code: "bad_request",
    });
    expect(await refusal(api.createConversation({ id, members: [ann] }))).toMatchObject({
      status: 409,
      code: "conflict",
    });
    // Not a member: the server key may send only as a member.
    expect(await refusal(api.sendMessage(id, { senderId: bob, body: "hi" }))).toMatchObject({
      status: 403,
      code: "forbidden",
    });
    expect(await refusal(api.sendMessage(id, { senderId: ann, body: "x".repeat(2000) }))).toMatchObject({
      status: 413,
      code: "too_large",
    });
    expect(await refusal(api.editMessage(id, 99, { body: "x" }))).toMatchObject({
      status: 404,
      code: "not_found",
    });
    expect(await refusal(api.deleteWebhook("wh_none"))).toMatchObject({ status: 404, code: "not_found" });

    const stranger = new ParleyServer({ baseUrl: w.server.url, serverKey: "sk_wrong", retries: 0 });
    expect(await refusal(stranger.listWebhooks())).toMatchObject({ status: 401, code: "unauthorized" });

    // Sends are rate limited per member: the third quick one is a 429 with Retry-After.
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((n) => api.sendMessage(id, { senderId: ann, body: `m${n}` })),
    );
    const limited = results.find((r) => r.status === "rejected");
    expect(limited, JSON.stringify(results)).toBeDefined();
    const error = (limited as PromiseRejectedResult).reason as ParleyApiError;
    expect(error).toMatchObject({ status: 429, code: "rate_limited" });
    expect(error.retryAfter).toBeGreaterThanOrEqual(1);
  });

  it("retries a rate-limited send after Retry-After, and stores it once", async () => {
    const api = parley(); // 2 retries by default
    const ann = uid("ann");
    const id = uid("c");
    await api.createConversation({ id, members: [ann] });
    const sent = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        api.sendMessage(id, { senderId: ann, clientMessageId: `k${n}`, body: `m${n}` }),
      ),
    );
    expect(sent.map((s) => s.created)).toEqual([true, true, true, true]);
    const page = await api.log(id);
    expect(page.entries.map((e) => e.message.body).sort()).toEqual(["m1", "m2", "m3", "m4"]);
  }, 20_000);

  it("reports a relay that is not there as a network error (status 0)", async () => {
    const api = new ParleyServer({
      baseUrl: "http://127.0.0.1:1",
      serverKey: "sk",
      retries: 1,
      maxRetryDelayMs: 10,
    });
    expect(await refusal(api.listWebhooks())).toMatchObject({ status: 0, code: "network" });
  });
});

describe("webhooks", () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it("registers, lists, resumes and deletes an endpoint; a real receiver verifies a delivery with the helper", async () => {
    const api = parley();
    const got: WebhookEvent[] = [];
    const refused: string[] = [];
    let secret = "";
    const receiver = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      try {
        got.push(await verifyWebhook<WebhookEvent>(secret, req.headers, body));
        res.writeHead(204).end();
      } catch (error) {
        refused.push(String(error));
        res.writeHead(401).end();
      }
    });
    servers.push(receiver);
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

    const endpoint = await api.createWebhook({ url, events: ["message.created"] });
    secret = endpoint.secret;
    expect(endpoint).toMatchObject({ url, events: ["message.created"], status: "active" });
    expect(endpoint.secret).toMatch(/^whsec_/);
    const listed = await api.listWebhooks();
    expect(listed.find((e) => e.id === endpoint.id)).toMatchObject({ url, status: "active" });
    expect(listed.find((e) => e.id === endpoint.id)).not.toHaveProperty("secret");

    const [ann, bob] = [uid("ann"), uid("bob")];
    const id = uid("c");
    await api.createConversation({ id, members: [ann, bob] });
    await api.sendMessage(id, { senderId: ann, body: "hello, back end" });
    await eventually(async () => got.length > 0, 10_000);
    expect(refused).toEqual([]);
    expect(got[0]).toMatchObject({ type: "message.created", conversationId: id, seq: 1 });
    expect(got[0]?.type === "message.created" && got[0].data.message.body).toBe("hello, back end");

    expect(await api.resumeWebhook(endpoint.id)).toMatchObject({ id: endpoint.id, status: "active" });
    await api.deleteWebhook(endpoint.id);
    expect((await api.listWebhooks()).some((e) => e.id === endpoint.id)).toBe(false);
  }, 20_000);
});

it("is the package's `parley/server` export, and `npm run build` emits it", () => {
  const read = (file: string) => JSON.parse(readFileSync(`${repoRoot}/${file}`, "utf8"));
  expect(read("package.json").exports["./server"]).toEqual({
    types: "./dist/server/index.d.ts",
    default: "./dist/server/index.js",
  });
  expect(read("package.json").files).toContain("server");
  expect(read("tsconfig.build.json").include).toContain("server");
});
