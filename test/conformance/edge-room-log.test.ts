/**
 * The room's write-ahead log on local workerd (`npm run dev:workers`, PARLEY_EDGE_COMMIT=room,
 * the default): a send is acknowledged once it is in the Durable Object's own storage, so it is
 * acknowledged while libSQL cannot be reached; reads of the conversation never show less than
 * was acknowledged; and after the relay is SIGKILLed and libSQL is back, every acknowledged
 * message is in libSQL, in order, once. The database is a real sqld behind a real TCP proxy
 * that cuts it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Api } from "../helpers/clients.ts";
import { type RelayOnSqld, startRelayOnSqld } from "../helpers/relay-on-sqld.ts";
import type { ServerHandle } from "../helpers/server.ts";
import type { Sqld } from "../helpers/sqld.ts";

/** The relay's bound on one libSQL call here (PARLEY_DB_TIMEOUT_MS; 10 s by default). */
const DB_TIMEOUT_MS = 1500;

let relay: RelayOnSqld;
let sqld: Sqld;
let server: ServerHandle;
let admin: Api;
let ann: Api;

beforeAll(async () => {
  relay = await startRelayOnSqld("workers", { PARLEY_DB_TIMEOUT_MS: String(DB_TIMEOUT_MS) });
  ({ sqld, server, admin, ann } = relay);
}, 120_000);

afterAll(async () => {
  await relay?.dispose();
});

const send = (conversation: string, key: string) =>
  admin.post(`/v1/conversations/${conversation}/messages`, {
    senderId: "ann",
    clientMessageId: key,
    body: key,
  });

/** The conversation's history once the relay answers it (bounded; a refusal fails at once). */
async function historyOf(conversation: string): Promise<Array<[number, string]>> {
  let last = "";
  for (let i = 0; i < 120; i++) {
    const res = await ann.get(`/v1/conversations/${conversation}/messages?limit=100`).catch((e: Error) => ({
      status: 0,
      text: e.message,
      json: null,
    }));
    if (res.status === 200)
      return (res.json.messages as Array<{ seq: number; body: string }>).map((m) => [m.seq, m.body]);
    last = `${res.status} ${res.text.slice(0, 200)}`;
    if (res.status >= 400 && res.status < 500) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`history never answered 200: ${last}`);
}

describe("the edge room's log (workers)", () => {
  it("acknowledges while libSQL is away; after a SIGKILL and libSQL's return, every acknowledged message is there once", async () => {
    const conversation = `log-${Date.now().toString(36)}`;
    expect(
      (await admin.post("/v1/conversations", { id: conversation, members: ["ann", "bob"] })).status,
    ).toBe(201);
    expect((await send(conversation, "one")).status).toBe(201);
    expect(await historyOf(conversation)).toEqual([[1, "one"]]);

    // libSQL away: every new connection to it is closed, the open ones cut.
    sqld.proxy.blockRequests(/./);
    sqld.proxy.cutAll();
    for (const key of ["two", "three", "four"]) {
      const res = await send(conversation, key);
      expect(res.status, res.text).toBe(201);
    }
    // A read cannot show less than was acknowledged: here it fails with the contract's 503 and a
    // Retry-After (the Worker also reads the senders' profiles from libSQL for the answer's
    // `users` map; test/unit/room-wal.test.ts has the room's own reads failing while its log
    // cannot land).
    const whileAway = await ann.get(`/v1/conversations/${conversation}/messages?limit=100`);
    expect(whileAway.status, whileAway.text).toBe(503);
    expect(whileAway.json).toMatchObject({ error: { code: "store_unavailable" } });

    // The relay dies with the three messages only in the room's own storage.
    await server.kill();
    sqld.proxy.blockRequests(null);
    await server.restart();

    expect(await historyOf(conversation)).toEqual([
      [1, "one"],
      [2, "two"],
      [3, "three"],
      [4, "four"],
    ]);
    // A retry of an acknowledged send is answered with the same message.
    const retry = await send(conversation, "three");
    expect(retry.status).toBe(200);
    expect(retry.json.message.seq).toBe(3);
    // libSQL itself has them (the thread list reads it directly).
    const list = await ann.get("/v1/conversations");
    const item = (list.json.conversations as Array<{ id: string; lastSeq: number }>).find(
      (c) => c.id === conversation,
    );
    expect(item?.lastSeq).toBe(4);
  }, 180_000);

  it("a libSQL server that stops answering costs a 503, not a hang; sends still go through the room's log", async () => {
    const conversation = `stall-${Date.now().toString(36)}`;
    expect((await admin.post("/v1/conversations", { id: conversation, members: ["ann"] })).status).toBe(201);
    expect((await send(conversation, "s1")).status).toBe(201);

    // Half-open: nothing reaches sqld and nothing comes back, and no connection is closed.
    sqld.proxy.stall();
    try {
      const created = await admin.post("/v1/conversations", { id: `${conversation}-b`, members: ["ann"] });
      expect(created.status, created.text).toBe(503);
      expect(created.json).toMatchObject({ error: { code: "store_unavailable" } });
      // The room's log acknowledges without libSQL.
      const sent = await send(conversation, "s2");
      expect(sent.status, sent.text).toBe(201);
    } finally {
      sqld.proxy.pass();
    }
    // Back: the stalled connections are given up on, and the log lands on new ones.
    expect(await historyOf(conversation)).toEqual([
      [1, "s1"],
      [2, "s2"],
    ]);
    // The stalled creation never reached sqld: it can be made now.
    expect(
      (await admin.post("/v1/conversations", { id: `${conversation}-b`, members: ["ann"] })).status,
    ).toBe(201);
  }, 120_000);
});
