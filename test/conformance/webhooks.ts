/**
 * Webhooks and the pre-send hook on every runtime (issue 14): the same scenario on Node and on
 * local workerd (Durable Objects, and PartyKit), where delivery runs from each room actor's
 * alarm instead of a process-wide dispatcher. A real receiver verifies every request with the
 * `standardwebhooks` package; the endpoint from the configuration (PARLEY_WEBHOOK_URL) and one
 * registered through `/v1/webhooks` must both get every event of a conversation, in order, with
 * retries that keep their `webhook-id`; the hook must accept, rewrite and reject.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { StartOptions } from "../helpers/server.ts";
import { deliveredSeqs, type Receiver, startReceiver, whsec } from "../helpers/webhook-receiver.ts";
import { eventually, expectError, history, send, uid, useServer } from "../helpers/world.ts";

export async function webhooksSuite(name: string, start: StartOptions): Promise<void> {
  const configSecret = whsec();
  const configured = await startReceiver(configSecret);
  const hookSecret = whsec();
  const hook = await startReceiver(hookSecret);
  hook.reply = (request) => {
    const body = String(request.event.data.body);
    if (body.startsWith("reject"))
      return { status: 200, body: JSON.stringify({ reject: { message: "not here" } }) };
    if (body.startsWith("rewrite")) return { status: 200, body: JSON.stringify({ body: "[redacted]" }) };
    return { status: 200, body: "{}" };
  };
  afterAll(async () => {
    await configured.close();
    await hook.close();
  });

  const w = useServer({
    ...start,
    env: {
      ...start.env,
      PARLEY_WEBHOOK_URL: `${configured.url}/configured`,
      PARLEY_WEBHOOK_SECRET: configSecret,
      PARLEY_HOOK_URL: `${hook.url}/screen`,
      PARLEY_HOOK_SECRET: hookSecret,
      PARLEY_WEBHOOK_RETRY_BASE_MS: "200",
      // Far above the base: a backoff that kept growing across deliveries would show.
      PARLEY_WEBHOOK_RETRY_MAX_MS: "5000",
      PARLEY_WEBHOOK_TIMEOUT_MS: "2000",
      PARLEY_WEBHOOK_SCAN_MS: "500",
      PARLEY_SEND_RATE: "1000",
      PARLEY_SEND_BURST: "1000",
    },
  });
  const of = (receiver: Receiver, conv: string) =>
    receiver.accepted.filter((r) => r.event.conversationId === conv);

  describe(`webhooks: ${name}`, () => {
    it("the configured endpoint gets every event of a conversation in order, signed, with recipients", async () => {
      const [ann, bob, cy] = [uid("ann"), uid("bob"), uid("cy")];
      const conv = await w.conversation([ann, bob, cy]);
      // bob is connected to the conversation when the messages commit; cy is not.
      const listener = w.track(await w.synced(bob, conv));
      const a = await w.as(ann);
      const m1 = await send(a, conv, "k1", "hello");
      await listener.waitFor((f) => f.type === "message" && f.message.seq === m1.seq, 5000);
      expect(
        (await a.request("PATCH", `/v1/conversations/${conv}/messages/${m1.seq}`, { body: "hello!" })).status,
      ).toBe(200);
      const b = await w.as(bob);
      expect(
        (await b.put(`/v1/conversations/${conv}/messages/${m1.seq}/reactions/%F0%9F%91%8D`)).status,
      ).toBe(200);
      expect((await w.admin.del(`/v1/conversations/${conv}/members/${cy}`)).status).toBe(204);
      await send(a, conv, "k2", "second");
      expect((await a.del(`/v1/conversations/${conv}/messages/${m1.seq}`)).status).toBe(200);

      const expected = [
        ["conversation.created", undefined],
        ["message.created", 1],
        ["message.updated", 2],
        ["reaction.added", 3],
        ["member.removed", undefined],
        ["message.created", 4],
        ["message.deleted", 5],
      ];
      const got = await eventually(async () => {
        const events = of(configured, conv);
        return events.length >= expected.length && events;
      }, 20_000).catch(() => of(configured, conv));
      expect(got.map((r) => [r.event.type, r.event.seq])).toEqual(expected);
      expect(configured.forged).toEqual([]);
      for (const r of got)
        expect([r.verified, r.path, r.event.app]).toEqual([true, "/configured", "default"]);
      const [created, first, , , removed, second] = got.map((r) => r.event);
      expect(created?.data.conversation).toEqual({ id: conv, title: conv, members: [ann, bob, cy] });
      expect(first?.data.recipients).toEqual({ online: [bob], offline: [cy] });
      expect(removed?.data).toEqual({ userId: cy });
      expect(second?.data.recipients).toEqual({ online: [bob], offline: [] });
    }, 60_000);

    it("a failing endpoint is retried with the same webhook-id, and nothing after it overtakes it", async () => {
      const [ann, bob] = [uid("ann"), uid("bob")];
      const conv = await w.conversation([ann, bob]);
      configured.reply = (request, attempt) => {
        if (request.event.conversationId !== conv || request.event.seq !== 2 || attempt > 2)
          return { status: 204 };
        return attempt === 1 ? { status: 503, headers: { "retry-after": "1" } } : { status: 500 };
      };
      try {
        const a = await w.as(ann);
        for (const i of [1, 2, 3, 4]) await send(a, conv, `k${i}`, `m${i}`);
        const seqs = await eventually(async () => {
          const s = deliveredSeqs(configured, conv);
          return s.length >= 4 && s;
        }, 30_000);
        expect(seqs).toEqual([1, 2, 3, 4]);
        // The failed event came three times under one id; the next one came only after it.
        const second = configured.requests.filter(
          (r) => r.event.conversationId === conv && r.event.seq === 2,
        );
        expect(second.length).toBe(3);
        expect(new Set(second.map((r) => r.id)).size).toBe(1);
        const third = configured.requests.find((r) => r.event.conversationId === conv && r.event.seq === 3);
        expect(third?.at).toBeGreaterThanOrEqual(second[2]?.at ?? Number.POSITIVE_INFINITY);
        // Retry-After: 1 held the first retry back for about a second.
        expect((second[1]?.at ?? 0) - (second[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
      } finally {
        configured.reply = () => ({ status: 204 });
      }
    }, 60_000);

    it("after a delivery, the backoff starts again from its base: an endpoint failing each event twice still gets them all soon", async () => {
      const [ann] = [uid("ann")];
      let conv = "";
      // Every event of this conversation fails twice, then is accepted.
      configured.reply = (request, attempt) =>
        request.event.conversationId === conv && attempt <= 2 ? { status: 500 } : { status: 204 };
      try {
        conv = await w.conversation([ann]);
        const a = await w.as(ann);
        for (const i of [1, 2, 3, 4, 5]) await send(a, conv, `k${i}`, `m${i}`);
        const seqs = await eventually(async () => {
          const s = deliveredSeqs(configured, conv);
          return s.length >= 5 && s;
        }, 45_000);
        expect(seqs).toEqual([1, 2, 3, 4, 5]);
        // The wait before each message's second attempt. A backoff carried over from the
        // earlier events' failures grows to 1.6-3.2 s by the third message (base 200 ms,
        // doubling); started again, each is 100-200 ms plus the timer's latency.
        const firstRetryWaits = [2, 3, 4, 5].map((seq) => {
          const tries = configured.requests.filter(
            (r) => r.event.conversationId === conv && r.event.seq === seq,
          );
          expect(tries.length).toBe(3);
          return (tries[1]?.at ?? 0) - (tries[0]?.at ?? 0);
        });
        const sorted = [...firstRetryWaits].sort((x, y) => x - y);
        expect(sorted[1], `first-retry waits ${firstRetryWaits.join(", ")} ms`).toBeLessThan(1000);
      } finally {
        configured.reply = () => ({ status: 204 });
      }
    }, 90_000);

    it("an endpoint registered with the server key gets the events from its creation on", async () => {
      const registered = await startReceiver();
      try {
        const created = await w.admin.post("/v1/webhooks", {
          url: `${registered.url}/registered`,
          events: ["message.created"],
        });
        expect(created.status, created.text).toBe(201);
        registered.secret = created.json.webhook.secret;
        const listed = await w.admin.get("/v1/webhooks");
        expect(listed.json.webhooks.map((x: { id: string }) => x.id)).toEqual(
          expect.arrayContaining(["cfg_env", created.json.webhook.id]),
        );
        expectError(await w.admin.del("/v1/webhooks/cfg_env"), 409, "conflict");
        const [ann, bob] = [uid("ann"), uid("bob")];
        const conv = await w.conversation([ann, bob]);
        const a = await w.as(ann);
        await send(a, conv, "r1", "one");
        await send(a, conv, "r2", "two");
        const got = await eventually(async () => {
          const events = of(registered, conv);
          return events.length >= 2 && events;
        }, 20_000);
        expect(got.map((r) => [r.event.type, r.event.seq, r.verified])).toEqual([
          ["message.created", 1, true],
          ["message.created", 2, true],
        ]);
        expect((await w.admin.del(`/v1/webhooks/${created.json.webhook.id}`)).status).toBe(204);
      } finally {
        await registered.close();
      }
    }, 60_000);

    it("the pre-send hook accepts, rewrites and rejects before a seq is given", async () => {
      const [ann, bob] = [uid("ann"), uid("bob")];
      const conv = await w.conversation([ann, bob]);
      const a = await w.as(ann);
      const post = (key: string, body: string) =>
        a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: key, body });
      expect((await post("h1", "fine")).json.message).toMatchObject({ seq: 1, body: "fine" });
      const rejected = await post("h2", "reject me");
      expectError(rejected, 422, "rejected");
      expect(rejected.json.error.message).toContain("not here");
      expect((await post("h3", "rewrite me")).json.message).toMatchObject({ seq: 2, body: "[redacted]" });
      expect((await history(a, conv)).map((m) => [m.seq, m.body])).toEqual([
        [1, "fine"],
        [2, "[redacted]"],
      ]);
      // A member's edit is screened too: rejected, it changes nothing; rewritten, it is stored so.
      const edit = (body: string) => a.request("PATCH", `/v1/conversations/${conv}/messages/1`, { body });
      expectError(await edit("reject this edit"), 422, "rejected");
      expect((await edit("rewrite this edit")).json.message).toMatchObject({ seq: 1, body: "[redacted]" });
      expect((await history(a, conv)).map((m) => [m.seq, m.body])).toEqual([
        [1, "[redacted]"],
        [2, "[redacted]"],
      ]);
      const screened = hook.requests.filter((r) => r.event.conversationId === conv);
      expect(screened.map((r) => [r.verified, r.path, r.event.type])).toEqual([
        [true, "/screen", "message.sending"],
        [true, "/screen", "message.sending"],
        [true, "/screen", "message.sending"],
        [true, "/screen", "message.editing"],
        [true, "/screen", "message.editing"],
      ]);
      // A second room signs with the same secret (on the edge, another Durable Object in the
      // same isolate): nothing one object made may be awaited by another. PartyKit's workerd
      // logged uncaught errors for it while every answer still looked right.
      const other = await w.conversation([ann, bob]);
      for (const key of ["o1", "o2"])
        expect(
          (await a.post(`/v1/conversations/${other}/messages`, { clientMessageId: key, body: key })).status,
        ).toBe(201);
      expect(w.server.output()).not.toMatch(
        /Cannot perform I\/O on behalf of a different Durable Object|expected expectedQueue|Uncaught Error: internal error/,
      );
    }, 60_000);
  });
}
