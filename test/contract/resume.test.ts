/** Resume by seq: replay from the buffer and from storage (several pages), then synced, then live. */
import { describe, expect, it } from "vitest";
import type { WsClient } from "../helpers/clients.ts";
import { history, range, send, sleep, useServer } from "../helpers/world.ts";

// A tiny buffer and page size so that resuming from an old seq crosses several storage pages.
const w = useServer({
  env: {
    PARLEY_BUFFER_SIZE: "20",
    PARLEY_PAGE_SIZE: "25",
    PARLEY_SEND_RATE: "10000",
    PARLEY_SEND_BURST: "10000",
  },
});

/** Seqs of message frames before the first `synced`, the synced frame, and message seqs after it. */
function split(c: WsClient) {
  const i = c.frames.findIndex((f) => f.type === "synced");
  const before = c.frames.slice(0, i === -1 ? c.frames.length : i);
  const after = i === -1 ? [] : c.frames.slice(i + 1);
  return {
    replay: before.filter((f) => f.type === "message").map((f) => f.message.seq as number),
    synced: i === -1 ? undefined : c.frames[i],
    live: after.filter((f) => f.type === "message").map((f) => f.message.seq as number),
  };
}

async function fill(conv: string, user: string, n: number, prefix = "m") {
  const a = await w.as(user);
  // 4 lanes in parallel, each sequential: bounded concurrency.
  await Promise.all(
    range(0, 3).map(async (lane) => {
      for (let i = lane; i < n; i += 4) await send(a, conv, `${prefix}-${i}`, `message ${i}`);
    }),
  );
}

describe("resume after disconnect", () => {
  it("storage path, many pages: after=3 of 120 -> 4..120 in order, synced 120, then live", async () => {
    const conv = await w.conversation(["res-a", "res-b"]);
    await fill(conv, "res-a", 120);
    const c = await w.synced("res-b", conv, { after: 3 });
    const { replay, synced } = split(c);
    expect(replay).toEqual(range(4, 120));
    expect(synced).toMatchObject({ type: "synced", lastSeq: 120 });
    // Replayed messages are whole messages.
    const f4 = c.frames.find((f) => f.type === "message" && f.message.seq === 4);
    expect(f4?.message).toMatchObject({ conversationId: conv, senderId: "res-a", body: expect.any(String) });

    await send(await w.as("res-a"), conv, "live-1");
    await c.waitFor((f) => f.type === "message" && f.message.seq === 121);
    expect(split(c).live).toEqual([121]);
    expect(c.messages()).toEqual(range(4, 121));
  });

  it("buffer path: after=110 of 120 -> 111..120, synced, live", async () => {
    const conv = await w.conversation(["buf-a", "buf-b"]);
    await fill(conv, "buf-a", 120);
    const c = await w.synced("buf-b", conv, { after: 110 });
    expect(split(c).replay).toEqual(range(111, 120));
    expect(split(c).synced).toMatchObject({ type: "synced", lastSeq: 120 });
    await send(await w.as("buf-a"), conv, "live-1");
    await c.waitFor((f) => f.type === "message" && f.message.seq === 121);
    expect(c.messages()).toEqual(range(111, 121));
  });

  it("no `after` -> no replay, just synced with lastSeq; after=lastSeq -> same", async () => {
    const conv = await w.conversation(["nr-a"]);
    await fill(conv, "nr-a", 7);
    const c1 = await w.synced("nr-a", conv);
    expect(c1.messages()).toEqual([]);
    expect(split(c1).synced).toMatchObject({ type: "synced", lastSeq: 7 });
    const c2 = await w.synced("nr-a", conv, { after: 7 });
    expect(c2.messages()).toEqual([]);
    expect(split(c2).synced).toMatchObject({ type: "synced", lastSeq: 7 });
    const c3 = await w.synced("nr-a", conv, { after: 0 });
    expect(split(c3).replay).toEqual(range(1, 7));
  });

  it("a disconnected client resumes from its last seen seq and misses nothing", async () => {
    const conv = await w.conversation(["dc-a", "dc-b"]);
    const a = await w.as("dc-a");
    const c1 = await w.synced("dc-b", conv);
    for (let i = 0; i < 5; i++) await send(a, conv, `first-${i}`);
    await c1.waitForMessages(5);
    const lastSeen = c1.messages().at(-1) as number;
    await c1.close();
    await fill(conv, "dc-a", 60, "missed"); // 60 messages while away: past the 20-message buffer
    const c2 = await w.synced("dc-b", conv, { after: lastSeen });
    expect(split(c2).replay).toEqual(range(6, 65));
    expect(split(c2).synced?.lastSeq).toBe(65);
  });

  it("messages sent during a long replay are neither skipped nor duplicated", async () => {
    const conv = await w.conversation(["race-a", "race-b"]);
    await fill(conv, "race-a", 100);
    const a = await w.as("race-a");
    let stop = false;
    let sent = 0;
    const sender = (async () => {
      for (let i = 0; i < 200 && !stop; i++) {
        await send(a, conv, `during-${i}`);
        sent++;
        await sleep(2);
      }
    })();
    const sockets: WsClient[] = [];
    for (let k = 0; k < 5; k++) {
      sockets.push(await w.socket("race-b", conv, { after: k * 10 }));
      await sleep(20);
    }
    await Promise.all(sockets.map((s) => s.waitFor((f) => f.type === "synced", 10_000)));
    await sleep(100);
    stop = true;
    await sender;
    const total = 100 + sent;
    const all = await history(a, conv);
    expect(all.map((m) => m.seq)).toEqual(range(1, total));
    for (let k = 0; k < sockets.length; k++) {
      const s = sockets[k] as WsClient;
      const got = await s.waitForMessages(total - k * 10, 10_000);
      expect(got, `socket after=${k * 10}`).toEqual(range(k * 10 + 1, total));
      // synced comes after every replayed message up to the lastSeq it reports.
      const { replay, synced } = split(s);
      expect(replay.at(-1)).toBe(synced?.lastSeq);
    }
  });

  it("after a restart (empty buffer) resume still comes from storage", async () => {
    const conv = await w.conversation(["rs-a", "rs-b"]);
    await fill(conv, "rs-a", 60);
    await w.server.stop();
    await w.server.restart();
    const c = await w.synced("rs-b", conv, { after: 2 });
    expect(split(c).replay).toEqual(range(3, 60));
    expect(split(c).synced).toMatchObject({ type: "synced", lastSeq: 60 });
    await send(await w.as("rs-a"), conv, "after-restart");
    await c.waitFor((f) => f.type === "message" && f.message.seq === 61);
    expect(c.messages()).toEqual(range(3, 61));
  });
});

describe("history read from the store", () => {
  it("older pages (beyond the room's memory) show messages in their latest state: reactions, edits, deletions, replies", async () => {
    const conv = await w.conversation(["hs-a", "hs-b"]);
    const a = await w.as("hs-a");
    const b = await w.as("hs-b");
    await send(a, conv, "first", "first words");
    await a.request("PATCH", `/v1/conversations/${conv}/messages/1`, { body: "first words, edited" });
    await b.put(`/v1/conversations/${conv}/messages/1/reactions/ok`);
    await send(b, conv, "second", "to be deleted");
    await b.del(`/v1/conversations/${conv}/messages/4`);
    await b.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "reply", body: "re", replyTo: 1 });
    // Push those out of the room's window (20 entries).
    await fill(conv, "hs-a", 40, "later");
    const page = await a.get(`/v1/conversations/${conv}/messages?before=7&limit=5`);
    expect(page.status).toBe(200);
    const [first, second, reply] = page.json.messages;
    expect(first).toMatchObject({
      seq: 1,
      body: "first words, edited",
      replyCount: 1,
      reactions: { ok: { count: 1, users: ["hs-b"] } },
    });
    expect(typeof first.editedAt).toBe("string");
    expect(second).toMatchObject({ seq: 4, body: "", deleted: true });
    expect(reply).toMatchObject({ seq: 6, replyTo: 1 });
  });
});
