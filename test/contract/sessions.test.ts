/** Client instances (`_pk`, 4009), heartbeats (ping/pong) and slow sockets (4008). */
import { describe, expect, it } from "vitest";
import { range, sleep, uid, useServer } from "../helpers/world.ts";

const w = useServer({
  env: {
    PARLEY_SOCKET_BUFFER_BYTES: String(64 * 1024),
    PARLEY_SEND_RATE: "100000",
    PARLEY_SEND_BURST: "100000",
    // The slow client reads its backlog only after the fast one got everything: however long
    // that takes on a loaded machine, it must still find the 4008 close frame, not a cut.
    PARLEY_CLOSE_TIMEOUT_MS: "60000",
    // The slow-socket test sends ~10 MB as one user on purpose.
    PARLEY_INBOUND_BYTES_PER_SECOND: String(1024 ** 3),
    PARLEY_INBOUND_BYTES_BURST: String(1024 ** 3),
  },
});

describe("one socket per client instance", () => {
  it("same user, conversation and _pk: the older socket closes with 4009, the newer stays live", async () => {
    const conv = await w.conversation(["pk-a", "pk-b"]);
    const older = await w.synced("pk-a", conv, { _pk: "device-1" });
    const newer = await w.synced("pk-a", conv, { _pk: "device-1" });
    expect((await older.closed).code).toBe(4009);
    expect(newer.isOpen).toBe(true);
    (await w.synced("pk-b", conv)).send({ type: "send", clientMessageId: "m1", body: "hi" });
    await newer.waitForMessages(1);
    expect(older.messages()).toEqual([]);
  });

  it("different _pk (or none): all sockets of the user stay live and receive", async () => {
    const conv = await w.conversation(["pk2-a", "pk2-b"]);
    const s1 = await w.synced("pk2-a", conv, { _pk: "tab-1" });
    const s2 = await w.synced("pk2-a", conv, { _pk: "tab-2" });
    const s3 = await w.synced("pk2-a", conv);
    const s4 = await w.synced("pk2-a", conv);
    const sb = await w.synced("pk2-b", conv);
    sb.send({ type: "send", clientMessageId: "m1", body: "hi" });
    for (const s of [s1, s2, s3, s4]) {
      await s.waitForMessages(1);
      expect(s.isOpen).toBe(true);
    }
  });

  it("the same _pk in another conversation or for another user replaces nothing", async () => {
    const c1 = await w.conversation(["pk3-a", "pk3-b"]);
    const c2 = await w.conversation(["pk3-a"]);
    const s1 = await w.synced("pk3-a", c1, { _pk: "shared" });
    const s2 = await w.synced("pk3-a", c2, { _pk: "shared" });
    const s3 = await w.synced("pk3-b", c1, { _pk: "shared" });
    await sleep(300);
    for (const s of [s1, s2, s3]) expect(s.isOpen).toBe(true);
  });

  it("the replacing socket resumes with after and gets no duplicates", async () => {
    const conv = await w.conversation(["pk4-a"]);
    const s1 = await w.synced("pk4-a", conv, { _pk: "p" });
    for (let i = 0; i < 5; i++) s1.send({ type: "send", clientMessageId: `m${i}`, body: `${i}` });
    await s1.waitForMessages(5);
    const s2 = await w.synced("pk4-a", conv, { _pk: "p", after: 3 });
    expect((await s1.closed).code).toBe(4009);
    expect(s2.messages()).toEqual([4, 5]);
  });
});

describe("heartbeat", () => {
  it("ping frame -> pong frame", async () => {
    const conv = await w.conversation(["hb-a"]);
    const s = await w.synced("hb-a", conv);
    s.send({ type: "ping" });
    s.send({ type: "ping" });
    await s.until(() => s.ofType("pong").length >= 2 || undefined, 3000, "two pongs");
    expect(s.ofType("pong")[0]).toMatchObject({ type: "pong" });
  });
});

describe("slow sockets", () => {
  it("a socket that does not read is closed with 4008; the room keeps serving the others", async () => {
    const conv = await w.conversation(["slow-a", "slow-b", "slow-c"]);
    const slow = await w.synced("slow-b", conv, { _pk: uid("slow") });
    const fast = await w.synced("slow-c", conv);
    // Stop reading on the slow client: the server's outbound buffer for it grows.
    const raw = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    const a = await w.as("slow-a");
    const body = "z".repeat(16 * 1024 - 16);
    const total = 600; // ~10 MB: more than the kernel buffers plus the 64 KiB cap
    const t0 = Date.now();
    await Promise.all(
      range(0, 7).map(async (lane) => {
        for (let i = lane; i < total; i += 8) {
          const res = await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `m${i}`, body });
          expect(res.status).toBe(201);
        }
      }),
    );
    const sendMs = Date.now() - t0;
    // The fast client got everything, in order, while the slow one was stuck.
    const got = await fast.waitForMessages(total, 15_000);
    expect(got).toEqual(range(1, total));
    raw.resume();
    const closed = await Promise.race([
      slow.closed,
      sleep(10_000).then(() => ({ code: -1, reason: "open" })),
    ]);
    expect(closed.code).toBe(4008);
    // It resumes from what it saw and gets the rest without gaps.
    const seen = slow.messages();
    expect(seen).toEqual(range(1, seen.length));
    const again = await w.synced("slow-b", conv, { after: seen.length });
    expect(again.messages()).toEqual(range(seen.length + 1, total));
    expect(sendMs).toBeLessThan(15_000);
  });
});
