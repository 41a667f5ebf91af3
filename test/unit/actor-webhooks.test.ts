/**
 * Edge delivery's memory (party/host/webhooks/actor-webhooks.ts), on a real libSQL file and a
 * real receiver: a commit that rings the alarm while a lane waits out its backoff does not
 * retry it early, and a run asked for while one is going does not send the lane's next event a
 * second time beside it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { defaultLimits } from "../../party/core/limits.ts";
import { RelayHub } from "../../party/host/local-directory.ts";
import { ActorWebhooks } from "../../party/host/webhooks/actor-webhooks.ts";
import { fetchTransport } from "../../party/host/webhooks/transport.ts";
import type { LibsqlStore } from "../../store/libsql-store.ts";
import { openStore } from "../../store/open.ts";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.ts";

let dir: string;
let store: LibsqlStore;
let receiver: Receiver;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-actor-webhooks-"));
  store = await openStore({ url: `file:${join(dir, "p.db")}`, sync: "normal", busyTimeoutMs: 100 });
  receiver = await startReceiver();
});
afterEach(async () => {
  await receiver.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const limits = { ...defaultLimits, webhookRetryBaseMs: 5_000, webhookRetryMaxMs: 60_000 };

/** A conversation with one endpoint at the receiver, a room host, and the actor's delivery. */
async function setUp() {
  const created = await store.webhooks.listEndpoints("default");
  expect(created).toEqual([]);
  const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
  receiver.secret = secret;
  await store.webhooks.createEndpoint({
    app: "default",
    id: "wh_test",
    url: `${receiver.url}/in`,
    secret,
    events: ["message.created"],
    status: "active",
    lastError: null,
    failingSince: null,
    createdAt: new Date().toISOString(),
  });
  const alarms: number[] = [];
  const webhooks = new ActorWebhooks("default", "c1", {
    store,
    webhooks: store.webhooks,
    transport: fetchTransport,
    limits,
    publicOnly: false,
    setAlarm: (at) => alarms.push(at),
    onError: () => undefined,
  });
  await webhooks.ready();
  const hub = new RelayHub({ store, limits, onError: () => undefined, webhooks });
  await hub.createConversation("default", { id: "c1", members: ["ann", "bob"] });
  const room = await hub.room("default", "c1");
  const send = (key: string) => room.send("ann", { clientMessageId: key, body: key });
  return { webhooks, alarms, send, hub };
}

it("a lane in backoff is not tried again by a commit's alarm before its time", async () => {
  const { webhooks, alarms, send } = await setUp();
  receiver.reply = () => ({ status: 503 });
  await send("k1");
  expect(alarms.length).toBeGreaterThan(0); // the commit rang the alarm
  const retryAt = await webhooks.run();
  expect(receiver.requests.length).toBe(1);
  // About the base wait (5 s, jittered to between half and all of it) from now.
  expect(retryAt).toBeGreaterThan(Date.now() + 2_000);
  receiver.reply = () => ({ status: 204 });
  await send("k2"); // rings the alarm again, now
  expect(await webhooks.run()).toBe(retryAt);
  expect(receiver.requests.length).toBe(1); // nothing was sent before the lane's time
});

it("a run asked for during a run sends nothing beside it, and asks to run again at once", async () => {
  const { webhooks, send } = await setUp();
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  receiver.reply = async (_request, attempt) => {
    if (attempt === 1) await held;
    return { status: 204 };
  };
  await send("k1");
  const first = webhooks.run();
  await new Promise((resolve) => setTimeout(resolve, 200)); // the first delivery is on its way
  expect(await webhooks.run()).toBeUndefined(); // answered at once: one is going
  release();
  const next = await first;
  expect(next).toBeLessThanOrEqual(Date.now()); // run again now: something may have come meanwhile
  expect(receiver.requests.map((r) => r.event.seq)).toEqual([1]); // sent once
  expect(await webhooks.run()).toBeUndefined(); // caught up
  expect(receiver.requests.length).toBe(1);
});
