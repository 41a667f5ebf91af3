/**
 * Webhook delivery across crashes and long failures: an endpoint from the configuration
 * (PARLEY_WEBHOOK_URL), a relay SIGKILLed mid-delivery and restarted (nothing skipped, order
 * kept, duplicates only as the same ids again), an endpoint paused after failing past the
 * retry window and resumed from its cursor, and the private-address rule of production.
 */
import { afterAll, describe, expect, it } from "vitest";
import { api, mintToken } from "../helpers/clients.ts";
import { startServer } from "../helpers/server.ts";
import { type Receiver, startReceiver, whsec } from "../helpers/webhook-receiver.ts";
import { eventually, expectError, history, send, sleep, uid, useServer } from "../helpers/world.ts";

const secret = whsec();
const receiver: Receiver = await startReceiver(secret);
afterAll(() => receiver.close());

const w = useServer({
  env: {
    PARLEY_WEBHOOK_URL: `${receiver.url}/from-env`,
    PARLEY_WEBHOOK_SECRET: secret,
    PARLEY_SEND_RATE: "1000",
    PARLEY_SEND_BURST: "1000",
    PARLEY_WEBHOOK_RETRY_BASE_MS: "50",
    PARLEY_WEBHOOK_RETRY_MAX_MS: "300",
    PARLEY_WEBHOOK_SCAN_MS: "300",
    PARLEY_WEBHOOK_RETRY_WINDOW_MS: "1500",
  },
});

/** First deliveries (by id) of one conversation's log events, in the order they were accepted. */
function firstSeqs(conv: string): number[] {
  const ids = new Set<string>();
  const seqs: number[] = [];
  for (const r of receiver.accepted) {
    if (r.event.conversationId !== conv || r.event.seq === undefined || ids.has(r.id)) continue;
    ids.add(r.id);
    seqs.push(r.event.seq);
  }
  return seqs;
}

/**
 * SIGKILLs the relay, restarts it, and waits until all `total` messages of `conv` were delivered,
 * in order; returns how many had been delivered before, and how many of those came again.
 */
async function killAndResume(conv: string, total: number): Promise<{ before: number; again: number }> {
  await w.server.kill();
  const before = firstSeqs(conv).length;
  const ofConv = () => receiver.requests.filter((x) => x.event.conversationId === conv);
  const requestsBefore = ofConv().length;
  await w.server.restart();
  receiver.reply = () => ({ status: 204 });
  await eventually(async () => firstSeqs(conv).length === total, 20_000);
  expect(firstSeqs(conv)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  const again = ofConv()
    .slice(requestsBefore)
    .filter((x) => x.event.seq !== undefined && (x.event.seq as number) <= before).length;
  return { before, again };
}

describe("an endpoint from the configuration", () => {
  it("is listed (with its cfg_ id), delivers signed events, and cannot be removed through the API", async () => {
    const listed = await w.admin.get("/v1/webhooks");
    const configured = listed.json.webhooks.find((x: { id: string }) => x.id === "cfg_env");
    expect(configured).toMatchObject({ url: `${receiver.url}/from-env`, status: "active", events: [] });
    expectError(await w.admin.del("/v1/webhooks/cfg_env"), 409, "conflict");
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    await send(await w.as(ann), conv, "k1", "hello");
    await eventually(async () => firstSeqs(conv).length === 1, 10_000);
    expect(receiver.forged).toEqual([]);
  });
});

describe("SIGKILL mid-delivery", () => {
  it("after a restart, delivery goes on from the durable cursor: every seq, in order, the same ids", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    // A slow receiver: the relay is killed while most events are still to be delivered.
    receiver.reply = () => ({ status: 200, delayMs: 40 });
    const a = await w.as(ann);
    const total = 90;
    for (let i = 1; i <= total; i++) await send(a, conv, `k${i}`, `m${i}`);
    // Past two of the cursor's saves (every 25 deliveries), so a restart must not go back to 0.
    await eventually(async () => firstSeqs(conv).length >= 60, 20_000);
    const { before, again } = await killAndResume(conv, total);
    expect(before).toBeLessThan(total);
    // The contract: a crash may deliver again up to 25 events (the cursor is written at least every 25).
    expect(again, `events delivered again after the restart: ${again}`).toBeLessThanOrEqual(25);
    // Anything delivered twice was the same event again (same webhook-id, same seq).
    const bySeq = new Map<number, Set<string>>();
    for (const r of receiver.requests.filter(
      (x) => x.event.conversationId === conv && x.event.seq !== undefined,
    ))
      bySeq.set(r.event.seq as number, (bySeq.get(r.event.seq as number) ?? new Set()).add(r.id));
    for (const ids of bySeq.values()) expect(ids.size).toBe(1);
  });
});

describe("SIGKILL while the lane keeps pace with the sends", () => {
  it("the cursor is saved every 25 deliveries even when every page read finds only a few new entries", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    // Sends a little faster than the endpoint answers: the lane never finds the log empty (no
    // save for catching up), and each read finds only the few entries that came meanwhile.
    receiver.reply = () => ({ status: 200, delayMs: 40 });
    const a = await w.as(ann);
    const total = 80;
    const delivered = () => firstSeqs(conv).length;
    for (let i = 1; i <= total && delivered() < 60; i++) {
      const started = Date.now();
      await send(a, conv, `k${i}`, `m${i}`);
      await sleep(Math.max(0, 30 - (Date.now() - started)));
    }
    await eventually(async () => delivered() >= 60, 20_000);
    const sent = (await history(a, conv)).length;
    const { again } = await killAndResume(conv, sent);
    expect(again, `events delivered again after the restart: ${again}`).toBeLessThanOrEqual(25);
  });
});

describe("failing past the retry window", () => {
  it("pauses the endpoint (status failing, lastError), sends go on, resume delivers from the cursor", async () => {
    const [ann] = [uid("ann")];
    const conv = await w.conversation([ann]);
    const a = await w.as(ann);
    await send(a, conv, "k1", "delivered");
    await eventually(async () => firstSeqs(conv).length === 1, 10_000);
    receiver.reply = () => ({ status: 500 });
    await send(a, conv, "k2", "refused by the endpoint");
    const paused = await eventually(async () => {
      const listed = await w.admin.get("/v1/webhooks");
      const mine = listed.json.webhooks.find((x: { id: string }) => x.id === "cfg_env");
      return mine?.status === "failing" && mine;
    }, 15_000);
    expect(paused.lastError).toMatch(/HTTP 500/);
    expect(typeof paused.failingSince).toBe("string");
    // The operator's warning follows the stored status (the lane logs once the store answered),
    // and reaches this process through the server's stdout pipe, not the HTTP socket that
    // answered above: it may arrive a moment after the listing shows "failing".
    await eventually(
      async () => /webhook endpoint cfg_env of app default .* paused/.test(w.server.output()),
      5_000,
    );
    // Paused: nothing more is tried; sends are not affected.
    receiver.reply = () => ({ status: 204 });
    await send(a, conv, "k3", "while paused");
    await sleep(800);
    expect(firstSeqs(conv)).toEqual([1]);
    const resumed = await w.admin.post("/v1/webhooks/cfg_env/resume");
    expect(resumed.status).toBe(200);
    expect(resumed.json.webhook).toMatchObject({ id: "cfg_env", status: "active" });
    expect(resumed.json.webhook.lastError).toBeUndefined();
    await eventually(async () => firstSeqs(conv).length === 3, 10_000);
    expect(firstSeqs(conv)).toEqual([1, 2, 3]);
  });
});

describe("private addresses in production", () => {
  it("an endpoint registered through the API may not point inward, unless PARLEY_WEBHOOK_ALLOW_PRIVATE=1", async () => {
    const strict = await startServer({ env: { NODE_ENV: "production" } });
    try {
      const admin = api(strict.url, strict.serverKey);
      for (const url of [
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://192.168.0.10/x",
      ])
        expectError(await admin.post("/v1/webhooks", { url }), 400, "bad_request");
      expect((await admin.post("/v1/webhooks", { url: "https://hooks.example.com/parley" })).status).toBe(
        201,
      );
      // A user token is not enough either.
      const user = api(strict.url, await mintToken(strict.secret, "u1"));
      expectError(await user.get("/v1/webhooks"), 403, "forbidden");
    } finally {
      await strict.dispose();
    }
    const open = await startServer({ env: { NODE_ENV: "production", PARLEY_WEBHOOK_ALLOW_PRIVATE: "1" } });
    try {
      const admin = api(open.url, open.serverKey);
      expect((await admin.post("/v1/webhooks", { url: "http://10.1.2.3/x" })).status).toBe(201);
    } finally {
      await open.dispose();
    }
  });
});
