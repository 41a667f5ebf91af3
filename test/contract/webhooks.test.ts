/**
 * Webhooks (CONTRACT.md v1.1): endpoints managed with the server key, every event of a
 * conversation delivered in order to a real receiver that verifies each request with the
 * `standardwebhooks` package, and who was online when a message committed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SseClient } from "../helpers/clients.ts";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.ts";
import { eventually, expectError, send, sleep, uid, useServer } from "../helpers/world.ts";

const w = useServer({
  env: {
    PARLEY_SEND_RATE: "1000",
    PARLEY_SEND_BURST: "1000",
    PARLEY_WEBHOOK_RETRY_BASE_MS: "50",
    PARLEY_WEBHOOK_RETRY_MAX_MS: "400",
    PARLEY_WEBHOOK_SCAN_MS: "500",
    PARLEY_WEBHOOK_TIMEOUT_MS: "1500",
  },
});

let receiver: Receiver;
let endpointId: string;
beforeAll(async () => {
  receiver = await startReceiver();
  const created = await w.admin.post("/v1/webhooks", { url: `${receiver.url}/hooks` });
  expect(created.status, created.text).toBe(201);
  receiver.secret = created.json.webhook.secret;
  endpointId = created.json.webhook.id;
});
afterAll(async () => {
  await receiver?.close();
});

const ofConversation = (conv: string) => receiver.accepted.filter((r) => r.event.conversationId === conv);

describe("endpoints", () => {
  it("POST answers 201 with a whsec_ secret shown once; GET lists without secrets; DELETE 204 then 404", async () => {
    const created = await w.admin.post("/v1/webhooks", {
      url: "http://127.0.0.1:9/elsewhere",
      events: ["message.created", "message.deleted"],
    });
    expect(created.status).toBe(201);
    const hook = created.json.webhook;
    expect(hook).toMatchObject({
      url: "http://127.0.0.1:9/elsewhere",
      events: ["message.created", "message.deleted"],
      status: "active",
    });
    expect(hook.id).toMatch(/^wh_/);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const listed = await w.admin.get("/v1/webhooks");
    expect(listed.status).toBe(200);
    const mine = listed.json.webhooks.find((x: { id: string }) => x.id === hook.id);
    expect(mine).toMatchObject({ id: hook.id, status: "active" });
    expect(mine.secret).toBeUndefined();
    expect((await w.admin.del(`/v1/webhooks/${hook.id}`)).status).toBe(204);
    expectError(await w.admin.del(`/v1/webhooks/${hook.id}`), 404, "not_found");
    expectError(await w.admin.post(`/v1/webhooks/${hook.id}/resume`), 404, "not_found");
  });

  it("refuses what cannot be an endpoint: other schemes, credentials, bad event types, users", async () => {
    expectError(await w.admin.post("/v1/webhooks", { url: "ftp://example.com/x" }), 400, "bad_request");
    expectError(await w.admin.post("/v1/webhooks", { url: "file:///etc/passwd" }), 400, "bad_request");
    expectError(await w.admin.post("/v1/webhooks", { url: "http://u:p@example.com/" }), 400, "bad_request");
    expectError(await w.admin.post("/v1/webhooks", { url: "not a url" }), 400, "bad_request");
    expectError(
      await w.admin.post("/v1/webhooks", { url: "http://example.com/", events: ["message.sent"] }),
      400,
      "bad_request",
    );
    // One type as a string, not a list: the answer says that, and only that.
    const notAList = await w.admin.post("/v1/webhooks", {
      url: "http://example.com/",
      events: "message.created",
    });
    expectError(notAList, 400, "bad_request");
    expect(notAList.json.error.message).toMatch(/expected array/);
    expect(notAList.json.error.message).not.toMatch(/characters/);
    const tooMany = await w.admin.post("/v1/webhooks", {
      url: "http://example.com/",
      events: Array(9).fill("message.created"),
    });
    expectError(tooMany, 400, "bad_request");
    expect(tooMany.json.error.message).toMatch(/at most 8 event types/);
    const user = await w.as(uid("u"));
    expectError(await user.post("/v1/webhooks", { url: "http://example.com/" }), 403, "forbidden");
    expectError(await user.get("/v1/webhooks"), 403, "forbidden");
  });
});

describe("delivery", () => {
  it("every event of a conversation, in order, signed: created, messages, changes, members", async () => {
    const [ann, bob, cy] = [uid("ann"), uid("bob"), uid("cy")];
    const conv = await w.conversation([ann, bob]);
    const a = await w.as(ann);
    const b = await w.as(bob);
    const m1 = await send(a, conv, "k1", "hello");
    const m2 = (
      await b.post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: "k2",
        body: "hi",
        meta: { x: 1 },
      })
    ).json.message;
    expect(
      (await a.request("PATCH", `/v1/conversations/${conv}/messages/${m1.seq}`, { body: "hello!" })).status,
    ).toBe(200);
    expect((await b.put(`/v1/conversations/${conv}/messages/${m1.seq}/reactions/%F0%9F%91%8D`)).status).toBe(
      200,
    );
    expect((await b.del(`/v1/conversations/${conv}/messages/${m1.seq}/reactions/%F0%9F%91%8D`)).status).toBe(
      200,
    );
    expect((await w.admin.put(`/v1/conversations/${conv}/members/${cy}`)).status).toBe(204);
    const m3 = (
      await a.post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: "k3",
        body: "welcome cy",
        replyTo: m2.seq,
      })
    ).json.message;
    expect((await b.del(`/v1/conversations/${conv}/messages/${m2.seq}`)).status).toBe(200);
    expect((await w.admin.del(`/v1/conversations/${conv}/members/${cy}`)).status).toBe(204);

    const expected = [
      ["conversation.created", undefined],
      ["message.created", 1],
      ["message.created", 2],
      ["message.updated", 3],
      ["reaction.added", 4],
      ["reaction.removed", 5],
      ["member.added", undefined],
      ["message.created", 6],
      ["message.deleted", 7],
      ["member.removed", undefined],
    ];
    const got = await eventually(async () => {
      const events = ofConversation(conv);
      return events.length >= expected.length && events;
    }, 10_000);
    expect(got.map((r) => [r.event.type, r.event.seq])).toEqual(expected);
    expect(receiver.forged).toEqual([]);
    for (const r of got) {
      expect(r.verified).toBe(true);
      expect(r.path).toBe("/hooks");
      expect(r.event.app).toBe("default");
      expect(r.event.conversationId).toBe(conv);
      expect(Number.isNaN(Date.parse(r.event.timestamp))).toBe(false);
    }
    const [created, first, second, edit, react, unreact, added, reply, deleted, removed] = got.map(
      (r) => r.event,
    );
    expect(created?.data.conversation).toEqual({ id: conv, title: conv, members: [ann, bob] });
    expect(first?.data.message).toMatchObject({ seq: 1, senderId: ann, clientMessageId: "k1" });
    expect(first?.data.recipients).toEqual({ online: [], offline: [bob] });
    expect(second?.data.message).toMatchObject({ seq: 2, senderId: bob });
    expect(edit?.data.change).toMatchObject({ seq: 3, target: 1, kind: "edit", userId: ann, body: "hello!" });
    expect(react?.data.change).toMatchObject({ seq: 4, target: 1, kind: "react", userId: bob, key: "👍" });
    expect(unreact?.data.change).toMatchObject({ seq: 5, kind: "unreact", key: "👍" });
    expect(added?.data).toEqual({ userId: cy });
    expect(reply?.data.message).toMatchObject({ seq: m3.seq, replyTo: 2 });
    expect(reply?.data.recipients).toEqual({ online: [], offline: [bob, cy] });
    expect(deleted?.data.change).toMatchObject({ seq: 7, target: 2, kind: "delete" });
    // A message is sent as it is when delivered: from its deletion on, its text is gone.
    expect(deleted?.data.message).toMatchObject({ seq: 2, deleted: true, body: "" });
    expect(JSON.stringify(got.slice(8).map((r) => r.event))).not.toContain('"hi"');
    expect(removed?.data).toEqual({ userId: cy });
  });

  it("an endpoint's event filter: it gets only those types, in order", async () => {
    const filtered = await startReceiver();
    try {
      const created = await w.admin.post("/v1/webhooks", {
        url: filtered.url,
        events: ["message.deleted", "member.added"],
      });
      filtered.secret = created.json.webhook.secret;
      const [ann, bob] = [uid("ann"), uid("bob")];
      const conv = await w.conversation([ann]);
      const a = await w.as(ann);
      const m = await send(a, conv, "k1", "x");
      await w.admin.put(`/v1/conversations/${conv}/members/${bob}`);
      await a.del(`/v1/conversations/${conv}/messages/${m.seq}`);
      await eventually(async () => filtered.accepted.length >= 2, 10_000);
      await sleep(300);
      expect(filtered.accepted.map((r) => r.event.type)).toEqual(["member.added", "message.deleted"]);
      await w.admin.del(`/v1/webhooks/${created.json.webhook.id}`);
    } finally {
      await filtered.close();
    }
  });

  it("an endpoint hears what happens after it was registered, not the app's past", async () => {
    const late = await startReceiver();
    try {
      const [ann] = [uid("ann")];
      const conv = await w.conversation([ann]);
      const a = await w.as(ann);
      await send(a, conv, "old", "before the endpoint");
      const created = await w.admin.post("/v1/webhooks", { url: late.url });
      late.secret = created.json.webhook.secret;
      await send(a, conv, "new", "after the endpoint");
      await eventually(async () => late.accepted.some((r) => r.event.conversationId === conv), 10_000);
      await sleep(300);
      const mine = late.accepted.filter((r) => r.event.conversationId === conv);
      expect(mine.map((r) => [r.event.type, r.event.seq])).toEqual([["message.created", 2]]);
      await w.admin.del(`/v1/webhooks/${created.json.webhook.id}`);
    } finally {
      await late.close();
    }
  });
});

describe("recipients: who was online when the message committed", () => {
  it("a socket, an inbox alone and a long-poll are online; a member with nothing open is offline", async () => {
    const [sender, onSocket, onInbox, onPoll, onSse, away] = ["s", "ws", "inbox", "poll", "sse", "away"].map(
      (p) => uid(p),
    ) as [string, string, string, string, string, string];
    const conv = await w.conversation([sender, onSocket, onInbox, onPoll, onSse, away]);
    await w.synced(onSocket, conv);
    const inbox = await w.inbox(onInbox);
    await inbox.opened;
    const sse = new SseClient(
      `${w.server.url}/v1/conversations/${conv}/events?token=${await w.token(onSse)}`,
    );
    await sse.waitFor((e) => e.data.type === "synced", 5000, "sse synced");
    const poller = await w.as(onPoll);
    const poll = poller.get(`/v1/conversations/${conv}/messages?after=0&wait=20`);
    await sleep(200); // the long-poll is waiting in the room
    const s = await w.as(sender);
    const m = await send(s, conv, "k1", "who is here?");
    expect((await poll).status).toBe(200);
    const event = await eventually(
      async () => ofConversation(conv).find((r) => r.event.seq === m.seq),
      10_000,
    );
    expect([...event.event.data.recipients.online].sort()).toEqual([onInbox, onPoll, onSocket, onSse].sort());
    expect(event.event.data.recipients.offline).toEqual([away]);
    await sse.close();
  });
});

describe("faults: nothing skipped, order kept, retries keep their id", () => {
  it("500s, a hang past the timeout, a dropped connection and 429 Retry-After: each event arrives once accepted, in order", async () => {
    const faulty = await startReceiver();
    try {
      const created = await w.admin.post("/v1/webhooks", { url: faulty.url });
      faulty.secret = created.json.webhook.secret;
      const retryAfterAt: number[] = [];
      faulty.reply = (r, attempt) => {
        if (r.event.type !== "message.created") return { status: 204 };
        const seq = r.event.seq as number;
        if (seq === 1 && attempt <= 2) return { status: 500 };
        if (seq === 2 && attempt === 1) return { drop: true };
        if (seq === 3 && attempt === 1) {
          retryAfterAt.push(Date.now());
          return { status: 429, headers: { "retry-after": "1" } };
        }
        if (seq === 3) retryAfterAt.push(Date.now());
        if (seq === 4 && attempt === 1) return { hang: true };
        return { status: 204 };
      };
      const [ann] = [uid("ann")];
      const conv = await w.conversation([ann]);
      const a = await w.as(ann);
      for (let i = 1; i <= 5; i++) await send(a, conv, `k${i}`, `m${i}`);
      await eventually(
        async () =>
          faulty.accepted.filter((r) => r.event.conversationId === conv && r.event.seq === 5).length > 0,
        15_000,
      );
      const tries = faulty.requests.filter(
        (r) => r.event.conversationId === conv && r.event.seq !== undefined,
      );
      // Order: each seq only after the previous one was accepted.
      expect(tries.map((r) => r.event.seq)).toEqual([1, 1, 1, 2, 2, 3, 3, 4, 4, 5]);
      // A retry keeps its webhook-id.
      const ids = new Map<number, Set<string>>();
      for (const r of tries)
        ids.set(r.event.seq as number, (ids.get(r.event.seq as number) ?? new Set()).add(r.id));
      for (const set of ids.values()) expect(set.size).toBe(1);
      // Retry-After: 1 was honoured.
      expect(retryAfterAt).toHaveLength(2);
      expect((retryAfterAt[1] as number) - (retryAfterAt[0] as number)).toBeGreaterThanOrEqual(950);
      await w.admin.del(`/v1/webhooks/${created.json.webhook.id}`);
    } finally {
      await faulty.close();
    }
  });

  it("many conversations, many sends, a receiver failing a third of its requests: per conversation no hole, no reordering", async () => {
    const flaky = await startReceiver();
    try {
      const created = await w.admin.post("/v1/webhooks", { url: flaky.url, events: ["message.created"] });
      flaky.secret = created.json.webhook.secret;
      let n = 0;
      flaky.reply = () => (n++ % 3 === 1 ? { status: 503 } : { status: 200, delayMs: n % 5 });
      const convs: string[] = [];
      for (let c = 0; c < 12; c++) convs.push(await w.conversation([`m-${c}`, `o-${c}`]));
      await Promise.all(
        convs.map(async (conv, c) => {
          const api = await w.as(`m-${c}`);
          for (let i = 1; i <= 15; i++) await send(api, conv, `k${i}`, `m${i}`);
        }),
      );
      await eventually(async () => convs.every((conv) => new Set(ofFlaky(conv)).size === 15), 30_000);
      for (const conv of convs) {
        const requests = flaky.requests.filter((r) => r.event.conversationId === conv);
        // Strictly increasing, except a retry of the same id (same seq) right after itself.
        for (let i = 1; i < requests.length; i++) {
          const [prev, cur] = [requests[i - 1], requests[i]];
          if (cur?.id === prev?.id) continue;
          expect(cur?.event.seq).toBe((prev?.event.seq as number) + 1);
        }
        expect(ofFlaky(conv)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      }
      await w.admin.del(`/v1/webhooks/${created.json.webhook.id}`);
    } finally {
      await flaky.close();
    }
    function ofFlaky(conv: string) {
      const ids = new Set<string>();
      return flaky.accepted
        .filter((r) => r.event.conversationId === conv && !ids.has(r.id) && ids.add(r.id))
        .map((r) => r.event.seq as number);
    }
  });

  it("an endpoint that is down for a while gets everything when it is back; sends never wait for it", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    const a = await w.as(ann);
    await send(a, conv, "k0", "before");
    await eventually(async () => ofConversation(conv).some((r) => r.event.seq === 1), 10_000);
    await receiver.stop();
    const started = Date.now();
    for (let i = 1; i <= 10; i++) await send(a, conv, `k${i}`, `while down ${i}`);
    // 10 durable sends with the endpoint down take what they take without it (no webhook wait).
    expect(Date.now() - started).toBeLessThan(5_000);
    await sleep(500);
    await receiver.start();
    await eventually(async () => ofConversation(conv).some((r) => r.event.seq === 11), 15_000);
    const seqs = [...new Set(ofConversation(conv).map((r) => r.event.seq))].filter((s) => s !== undefined);
    expect(seqs).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
  });
});

it("the endpoint this file registered is still listed as active", async () => {
  const listed = await w.admin.get("/v1/webhooks");
  expect(listed.json.webhooks.find((x: { id: string }) => x.id === endpointId)).toMatchObject({
    status: "active",
  });
});
