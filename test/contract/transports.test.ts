/** Fallback transports: long-poll (`wait=`) and Server-Sent Events with Last-Event-ID. */
import { afterAll, describe, expect, it } from "vitest";
import { type Message, SseClient } from "../helpers/clients.ts";
import { range, send, sleep, uid, useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" } });
const streams: SseClient[] = [];
afterAll(async () => {
  await Promise.all(streams.map((s) => s.close()));
});

async function sse(user: string, conv: string, query = "", headers: Record<string, string> = {}) {
  const token = await w.token(user);
  const s = new SseClient(`${w.server.url}/v1/conversations/${conv}/events?token=${token}${query}`, headers);
  streams.push(s);
  await s.ready;
  return s;
}

describe("long-poll", () => {
  it("returns as soon as a message arrives", async () => {
    const conv = await w.conversation(["lp-a", "lp-b"]);
    const a = await w.as("lp-a");
    await send(a, conv, "m1");
    const b = await w.as("lp-b");
    const t0 = Date.now();
    const pending = b.get(`/v1/conversations/${conv}/messages?after=1&wait=10`, { timeoutMs: 15_000 });
    await sleep(400);
    await send(a, conv, "m2");
    const res = await pending;
    const elapsed = Date.now() - t0;
    expect(res.status).toBe(200);
    expect(res.json.messages.map((m: Message) => m.seq)).toEqual([2]);
    expect(res.json.lastSeq).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(4000);
  });

  it("returns empty after the wait elapses", async () => {
    const conv = await w.conversation(["lpe-a"]);
    const a = await w.as("lpe-a");
    await send(a, conv, "m1");
    const t0 = Date.now();
    const res = await a.get(`/v1/conversations/${conv}/messages?after=1&wait=1`, { timeoutMs: 10_000 });
    const elapsed = Date.now() - t0;
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ messages: [], lastSeq: 1, hasMore: false });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(4000);
  });

  it("answers at once when messages are already there", async () => {
    const conv = await w.conversation(["lpi-a"]);
    const a = await w.as("lpi-a");
    for (let i = 0; i < 3; i++) await send(a, conv, `m${i}`);
    const t0 = Date.now();
    const res = await a.get(`/v1/conversations/${conv}/messages?after=1&wait=10`);
    expect(res.json.messages.map((m: Message) => m.seq)).toEqual([2, 3]);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("accepts the token as a query parameter and counts for presence while held", async () => {
    const conv = await w.conversation(["lpq-a", "lpq-b"]);
    const token = await w.token("lpq-a");
    const pending = fetch(`${w.server.url}/v1/conversations/${conv}/messages?after=0&wait=3&token=${token}`, {
      signal: AbortSignal.timeout(10_000),
    });
    await sleep(300);
    const pres = await (await w.as("lpq-b")).get(`/v1/conversations/${conv}/presence`);
    expect(pres.json.online).toContain("lpq-a");
    await send(await w.as("lpq-b"), conv, "wake");
    const res = await pending;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { messages: { seq: number }[] };
    expect(body.messages.map((m) => m.seq)).toEqual([1]);
    const bad = await fetch(`${w.server.url}/v1/conversations/${conv}/messages?after=0&wait=1&token=garbage`);
    expect(bad.status).toBe(401);
  });

  it("several waiters are all woken by one message", async () => {
    const conv = await w.conversation(["lpm-a", "lpm-b"]);
    const b = await w.as("lpm-b");
    const waiters = range(1, 5).map(() =>
      b.get(`/v1/conversations/${conv}/messages?after=0&wait=10`, { timeoutMs: 15_000 }),
    );
    await sleep(300);
    await send(await w.as("lpm-a"), conv, "one");
    for (const r of await Promise.all(waiters))
      expect(r.json.messages.map((m: Message) => m.seq)).toEqual([1]);
  });
});

describe("Server-Sent Events", () => {
  it("replay, then synced, then live; message events carry id: <seq>", async () => {
    const conv = await w.conversation(["sse-a", "sse-b"]);
    const a = await w.as("sse-a");
    for (let i = 1; i <= 5; i++) await send(a, conv, `m${i}`);
    const s = await sse("sse-b", conv, "&after=2");
    expect(s.status).toBe(200);
    expect(s.contentType).toMatch(/^text\/event-stream/);
    const synced = await s.waitFor((e) => e.data.type === "synced");
    expect(synced.data).toMatchObject({ type: "synced", lastSeq: 5 });
    expect(synced.id).toBeUndefined();
    const idx = s.events.indexOf(synced);
    const replay = s.events.slice(0, idx).filter((e) => e.data.type === "message");
    expect(replay.map((e) => e.data.message.seq)).toEqual([3, 4, 5]);
    expect(replay.map((e) => e.id)).toEqual(["3", "4", "5"]);

    await send(a, conv, "live");
    const live = await s.waitFor((e) => e.data.type === "message" && e.data.message.seq === 6);
    expect(live.id).toBe("6");
    expect(live.data.message).toMatchObject({
      conversationId: conv,
      senderId: "sse-a",
      clientMessageId: "live",
    });
    expect(s.messages()).toEqual([3, 4, 5, 6]);
    // Other frames (typing) come through without an id.
    await a.post(`/v1/conversations/${conv}/typing`);
    const typing = await s.waitFor((e) => e.data.type === "typing");
    expect(typing.id).toBeUndefined();
    expect(typing.data.userId).toBe("sse-a");
  });

  it("resumes from Last-Event-ID", async () => {
    const conv = await w.conversation(["lei-a"]);
    const a = await w.as("lei-a");
    for (let i = 1; i <= 6; i++) await send(a, conv, `m${i}`);
    const s = await sse("lei-a", conv, "", { "last-event-id": "4" });
    const synced = await s.waitFor((e) => e.data.type === "synced");
    expect(synced.data.lastSeq).toBe(6);
    expect(s.messages()).toEqual([5, 6]);
    await send(a, conv, "m7");
    await s.waitFor((e) => e.data.type === "message" && e.data.message.seq === 7);
    expect(s.messages()).toEqual([5, 6, 7]);
  });

  it("without after: no replay, just synced and live", async () => {
    const conv = await w.conversation(["sn-a"]);
    const a = await w.as("sn-a");
    await send(a, conv, "old");
    const s = await sse("sn-a", conv);
    expect((await s.waitFor((e) => e.data.type === "synced")).data.lastSeq).toBe(1);
    await send(a, conv, "new");
    await s.waitFor((e) => e.data.type === "message");
    expect(s.messages()).toEqual([2]);
  });

  it("an SSE stream counts as online", async () => {
    const conv = await w.conversation(["sp-a", "sp-b"]);
    const s = await sse("sp-a", conv);
    await s.waitFor((e) => e.data.type === "synced");
    const pres = await (await w.as("sp-b")).get(`/v1/conversations/${conv}/presence`);
    expect(pres.json.online).toContain("sp-a");
  });

  it("bad token -> 401, non-member -> 403, unknown -> 404, as JSON errors", async () => {
    const conv = await w.conversation(["se-a"]);
    const bad = new SseClient(`${w.server.url}/v1/conversations/${conv}/events?token=garbage`);
    streams.push(bad);
    await bad.ended;
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.errorBody)).toMatchObject({ error: { code: expect.any(String) } });
    const out = await sse(uid("outsider"), conv);
    await out.ended;
    expect(out.status).toBe(403);
    const nf = await sse("se-a", uid("nope"));
    await nf.ended;
    expect(nf.status).toBe(404);
  });
});
