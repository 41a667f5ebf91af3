/**
 * The room actor over a real libSQL file: group commit, idempotency across a reload, and what
 * happens when the store fails (a real lock held by another connection, and a write that lands
 * but reports failure).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Connection } from "../../party/core/connection.ts";
import { ParleyError } from "../../party/core/errors.ts";
import { defaultLimits } from "../../party/core/limits.ts";
import type { OutboundFrame } from "../../party/core/outbound-frame.ts";
import type { Store } from "../../party/core/store.ts";
import { RelayHub } from "../../party/host/local-directory.ts";
import type { LibsqlStore } from "../../store/libsql-store.ts";
import { openStore } from "../../store/open.ts";

/** A connection that records frames (an in-process client of the room). */
class RecordingConnection implements Connection {
  readonly id = "rec";
  frames: Array<Record<string, unknown>> = [];
  closed = false;
  closeCode: number | undefined;
  bufferedAmount = 0;
  send(frame: OutboundFrame) {
    this.frames.push(JSON.parse(frame.text) as Record<string, unknown>);
  }
  close(code: number) {
    this.closed = true;
    this.closeCode = code;
  }
  seqs() {
    return this.frames.filter((f) => f.type === "message").map((f) => (f.message as { seq: number }).seq);
  }
}

let dir: string;
let store: LibsqlStore;
const errors: unknown[] = [];

/** The real store with one method replaced (fault injection over a real libSQL file). */
function overriding(base: Store, overrides: Partial<Store>): Store {
  return new Proxy(base, {
    get(target, prop) {
      if (prop in overrides) return overrides[prop as keyof Store];
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The real store, counting the batches rooms hand to it. */
function countingBatches(): { store: Store; batches: number } {
  const counter = {
    batches: 0,
    store: overriding(store, {
      appendEntries: (app, id, batch) => {
        counter.batches++;
        return store.appendEntries(app, id, batch);
      },
    }),
  };
  return counter;
}

function hubOver(s: Store, limits = {}) {
  return new RelayHub({
    store: s,
    limits: { ...defaultLimits, sendRate: 1e6, sendBurst: 1e6, ...limits },
    onError: (e) => errors.push(e),
    defer: setImmediate,
  });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-room-"));
  store = await openStore({ url: `file:${join(dir, "p.db")}`, sync: "normal", busyTimeoutMs: 100 });
  errors.length = 0;
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("group commit", () => {
  it("commits concurrent sends in few transactions, with gap-free seqs", async () => {
    const counting = countingBatches();
    const hub = hubOver(counting.store);
    await hub.createConversation("default", { id: "c1", members: ["a", "b", "c", "d"] });
    const room = await hub.room("default", "c1");
    const sends = [];
    for (let i = 0; i < 200; i++) {
      sends.push(
        room.send(["a", "b", "c", "d"][i % 4] as string, { clientMessageId: `k${i}`, body: `m${i}` }),
      );
    }
    const results = await Promise.all(sends);
    expect(results.map((r) => r.message.seq).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    expect(results.every((r) => r.created)).toBe(true);
    expect(counting.batches).toBeLessThan(20);
    const stored = await store.readRange("default", "c1", { after: 0, limit: 500 });
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await hub.close();
  });

  it("answers a retried key from the store after the room is reloaded, beyond its buffer", async () => {
    const hub = hubOver(store, { bufferSize: 5 });
    await hub.createConversation("default", { id: "c2", members: ["a"] });
    const room = await hub.room("default", "c2");
    for (let i = 0; i < 20; i++) await room.send("a", { clientMessageId: `k${i}`, body: `m${i}` });
    await hub.close();
    const second = hubOver(store, { bufferSize: 5 });
    const reloaded = await second.room("default", "c2");
    const again = await reloaded.send("a", { clientMessageId: "k3", body: "m3" });
    expect(again).toMatchObject({ created: false, message: { seq: 4, body: "m3" } });
    await expect(reloaded.send("a", { clientMessageId: "k3", body: "other" })).rejects.toMatchObject({
      status: 409,
    });
    const next = await reloaded.send("a", { clientMessageId: "k20", body: "m20" });
    expect(next.message.seq).toBe(21);
    await second.close();
  });
});

describe("idempotency in one turn", () => {
  it("two sends of one key in the same turn (two frames in one read) store one message, both answered", async () => {
    const hub = hubOver(store);
    await hub.createConversation("default", { id: "turn", members: ["a"] });
    const room = await hub.room("default", "turn");
    const [first, second] = await Promise.all([
      room.send("a", { clientMessageId: "same", body: "x" }),
      room.send("a", { clientMessageId: "same", body: "x" }),
    ]);
    expect([first.created, second.created]).toEqual([true, false]);
    expect(second.message).toEqual(first.message);
    expect(errors).toEqual([]);
    expect((await store.readRange("default", "turn", { after: 0, limit: 10 })).length).toBe(1);
    await hub.close();
  });
});

describe("rate limit", () => {
  it("a replayed key the room no longer holds in memory does not use up the sender's limit", async () => {
    // A burst of 10 and (in practice) no refill; a buffer of 3, so old keys leave memory.
    const hub = hubOver(store, { sendRate: 0.001, sendBurst: 10, bufferSize: 3 });
    await hub.createConversation("default", { id: "rl", members: ["a", "b"] });
    const room = await hub.room("default", "rl");
    for (let i = 0; i < 5; i++) await room.send("a", { clientMessageId: `a${i}`, body: `a${i}` });
    for (let i = 0; i < 5; i++) await room.send("b", { clientMessageId: `b${i}`, body: `b${i}` });
    // a's five keys are out of memory now: answered from the store, as replays.
    const replays = await Promise.all(
      Array.from({ length: 5 }, (_, i) => room.send("a", { clientMessageId: `a${i}`, body: `a${i}` })),
    );
    expect(replays.map((r) => [r.created, r.message.seq])).toEqual([
      [false, 1],
      [false, 2],
      [false, 3],
      [false, 4],
      [false, 5],
    ]);
    // a took 5 of 10 tokens for new messages: 5 new ones still go through, the 6th does not.
    for (let i = 5; i < 10; i++) {
      const r = await room.send("a", { clientMessageId: `a${i}`, body: `a${i}` });
      expect(r.created).toBe(true);
    }
    await expect(room.send("a", { clientMessageId: "a10", body: "a10" })).rejects.toMatchObject({
      code: "rate_limited",
    });
    await hub.close();
  });
});

describe("store failures", () => {
  it("refuses with 503 while another process holds the write lock, then stores exactly once", async () => {
    const hub = hubOver(store);
    await hub.createConversation("default", { id: "c3", members: ["a"] });
    const room = await hub.room("default", "c3");
    const locker = createClient({ url: `file:${join(dir, "p.db")}` });
    const tx = await locker.transaction("write");
    await tx.execute("UPDATE conversations SET title = 'locked' WHERE id = 'c3'");
    const refused = await room.send("a", { clientMessageId: "k1", body: "hi" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ParleyError);
    expect((refused as ParleyError).status).toBe(503);
    await tx.rollback();
    locker.close();
    const stored = await room.send("a", { clientMessageId: "k1", body: "hi" });
    expect(stored).toMatchObject({ created: true, message: { seq: 1 } });
    const again = await room.send("a", { clientMessageId: "k1", body: "hi" });
    expect(again).toMatchObject({ created: false, message: { seq: 1 } });
    expect((await store.readRange("default", "c3", { after: 0, limit: 10 })).length).toBe(1);
    // The fresh commit connection after the failure kept the configured durability (normal = 1).
    expect(store.appendConnection?.setting("synchronous")).toBe(1);
    await hub.close();
  });

  it("recovers when a write landed but reported failure: no duplicate, subscribers get it once", async () => {
    let failNext = true;
    const flaky = overriding(store, {
      appendEntries: async (app, id, batch) => {
        await store.appendEntries(app, id, batch);
        if (failNext) {
          failNext = false;
          throw new Error("connection reset after commit");
        }
      },
    });
    const hub = hubOver(flaky);
    await hub.createConversation("default", { id: "c4", members: ["a", "b"] });
    const room = await hub.room("default", "c4");
    const conn = new RecordingConnection();
    room.connect(conn, { app: "default", userId: "b" }, 0);
    await expect(room.send("a", { clientMessageId: "k1", body: "one" })).rejects.toMatchObject({
      status: 503,
    });
    const retried = await room.send("a", { clientMessageId: "k1", body: "one" });
    const next = await room.send("a", { clientMessageId: "k2", body: "two" });
    expect(retried.message.seq).toBe(1);
    expect(next.message.seq).toBe(2);
    expect(conn.seqs()).toEqual([1, 2]);
    expect((await store.readRange("default", "c4", { after: 0, limit: 10 })).map((m) => m.seq)).toEqual([
      1, 2,
    ]);
    await hub.close();
  });
});

describe("unread counts", () => {
  it("exclude the member's own messages, below and inside the buffer, and survive a reload", async () => {
    const hub = hubOver(store, { bufferSize: 5 });
    await hub.createConversation("default", { id: "u1", members: ["a", "b"] });
    const room = await hub.room("default", "u1");
    // 12 messages: a sends the even ones, b the odd ones.
    for (let i = 1; i <= 12; i++)
      await room.send(i % 2 ? "b" : "a", { clientMessageId: `k${i}`, body: `${i}` });
    expect(room.threadItem("a").unread).toBe(6);
    expect(room.threadItem("b").unread).toBe(6);
    // A read position below the buffer (seq 8..12 in memory): counted from the store.
    await room.markRead("a", 3);
    expect(room.threadItem("a").unread).toBe(4); // b's 5, 7, 9, 11
    await room.send("a", { clientMessageId: "k13", body: "13" });
    expect(room.threadItem("a").unread).toBe(4);
    expect(room.threadItem("b").unread).toBe(7);
    await hub.close();
    const reloaded = await hubOver(store, { bufferSize: 5 }).room("default", "u1");
    expect(reloaded.threadItem("a")).toMatchObject({ unread: 4, lastReadSeq: 3, lastSeq: 13 });
    expect(reloaded.threadItem("b")).toMatchObject({ unread: 7, lastReadSeq: 0 });
  });
});

describe("an in-memory database (file::memory:)", () => {
  it("stores, answers a retried key and reads back, on its one connection", async () => {
    const memory = await openStore({ url: "file::memory:", sync: "normal" });
    expect(memory.appendConnection).toBeUndefined();
    const hub = hubOver(memory);
    await hub.createConversation("default", { id: "m1", members: ["a"] });
    const room = await hub.room("default", "m1");
    const first = await room.send("a", { clientMessageId: "k1", body: "one" });
    const again = await room.send("a", { clientMessageId: "k1", body: "one" });
    expect([first.created, again.created, again.message.seq]).toEqual([true, false, 1]);
    expect((await memory.readRange("default", "m1", { after: 0, limit: 10 })).map((m) => m.body)).toEqual([
      "one",
    ]);
    await hub.close();
    await memory.close();
  });
});

describe("a room's batches in flight together (pipelined)", () => {
  const turn = () => new Promise<void>((r) => setImmediate(r));

  it("batches handed in on consecutive turns share a commit, with seqs in send order", async () => {
    const counting = countingBatches();
    const hub = hubOver(counting.store);
    await hub.createConversation("default", { id: "p0", members: ["a", "b"] });
    const room = await hub.room("default", "p0");
    const conn = new RecordingConnection();
    room.connect(conn, { app: "default", userId: "b" }, 0);
    const sends = [];
    for (let i = 1; i <= 8; i++) {
      sends.push(room.send(i % 2 ? "a" : "b", { clientMessageId: `k${i}`, body: `m${i}` }));
      await turn();
    }
    const results = await Promise.all(sends);
    expect(results.map((r) => [r.created, r.message.seq, r.message.body])).toEqual(
      Array.from({ length: 8 }, (_, i) => [true, i + 1, `m${i + 1}`]),
    );
    expect(counting.batches).toBeGreaterThan(1); // the room did not wait for each commit
    const stored = await store.readRange("default", "p0", { after: 0, limit: 50 });
    expect(stored.map((m) => `${m.seq}:${m.body}`)).toEqual(
      results.map((r) => `${r.message.seq}:${r.message.body}`),
    );
    expect(conn.seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await hub.close();
  });

  it("a failed batch supersedes the later ones: no gap, each send stored once or refused", async () => {
    const hub = hubOver(store);
    await hub.createConversation("default", { id: "p1", members: ["a", "b"] });
    const room = await hub.room("default", "p1");
    const conn = new RecordingConnection();
    room.connect(conn, { app: "default", userId: "b" }, 0);
    await room.send("a", { clientMessageId: "k0", body: "before" });

    // The lock makes the next commit fail (SQLITE_BUSY after 100 ms) while later batches of
    // the same room are already on their way.
    const locker = createClient({ url: `file:${join(dir, "p.db")}` });
    const tx = await locker.transaction("write");
    await tx.execute("UPDATE conversations SET title = 'locked' WHERE id = 'p1'");
    const sends: Array<Promise<unknown>> = [];
    for (let i = 1; i <= 6; i++) {
      sends.push(room.send(i % 2 ? "a" : "b", { clientMessageId: `k${i}`, body: `m${i}` }).catch((e) => e));
      await turn();
    }
    const first = await sends[0];
    await tx.rollback();
    locker.close();
    const results = await Promise.all(sends);

    expect(first).toBeInstanceOf(ParleyError);
    const acked = results.filter(
      (r): r is { message: { seq: number; body: string } } => !(r instanceof Error),
    );
    const refused = results.filter((r) => r instanceof ParleyError);
    expect(acked.length + refused.length).toBe(6);
    for (const r of refused) expect((r as ParleyError).status).toBe(503);
    // Gap-free: the store holds seq 1 ("before") and then exactly the acknowledged sends.
    const stored = await store.readRange("default", "p1", { after: 0, limit: 50 });
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    expect(stored.map((m) => m.body).sort()).toEqual(["before", ...acked.map((r) => r.message.body)].sort());
    for (const r of acked) expect(stored[r.message.seq - 1]?.body).toBe(r.message.body);
    expect(conn.seqs()).toEqual(stored.map((m) => m.seq));

    // The refused ones go through on retry, after the others, still gap-free.
    for (let i = 1; i <= 6; i++) {
      if (results[i - 1] instanceof Error) {
        await room.send(i % 2 ? "a" : "b", { clientMessageId: `k${i}`, body: `m${i}` });
      }
    }
    const after = await store.readRange("default", "p1", { after: 0, limit: 50 });
    expect(after.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(after.map((m) => m.body).sort()).toEqual(["before", "m1", "m2", "m3", "m4", "m5", "m6"].sort());
    await hub.close();
  });

  it("a store that cannot be read while the room recovers does not wedge the room", async () => {
    let failAppend = true;
    let failReads = 0;
    const flaky = overriding(store, {
      appendEntries: async (app, id, batch) => {
        if (failAppend) {
          failAppend = false;
          failReads = 1; // ...and the resync right after fails too
          throw new Error("disk I/O error");
        }
        return store.appendEntries(app, id, batch);
      },
      readRange: async (app, id, query) => {
        if (failReads > 0) {
          failReads--;
          throw new Error("disk I/O error");
        }
        return store.readRange(app, id, query);
      },
    });
    const hub = hubOver(flaky);
    await hub.createConversation("default", { id: "p3", members: ["a"] });
    const room = await hub.room("default", "p3");
    await expect(room.send("a", { clientMessageId: "k1", body: "one" })).rejects.toMatchObject({
      status: 503,
    });
    const next = await room.send("a", { clientMessageId: "k2", body: "two" });
    expect(next.message.seq).toBe(1);
    expect((await store.readRange("default", "p3", { after: 0, limit: 10 })).map((m) => m.body)).toEqual([
      "two",
    ]);
    await hub.close();
  });

  it("a retried key beyond the buffer in one batch, new sends in the next: one copy each, gap-free", async () => {
    const first = hubOver(store, { bufferSize: 2 });
    await first.createConversation("default", { id: "p2", members: ["a"] });
    const early = await first.room("default", "p2");
    for (let i = 1; i <= 5; i++) await early.send("a", { clientMessageId: `k${i}`, body: `m${i}` });
    await first.close();

    // A fresh room remembers only k4 and k5: k1 is found by the store's unique index.
    const hub = hubOver(store, { bufferSize: 2 });
    const room = await hub.room("default", "p2");
    const sends = [
      room.send("a", { clientMessageId: "k1", body: "m1" }),
      room.send("a", { clientMessageId: "n1", body: "new1" }),
    ];
    await turn();
    sends.push(room.send("a", { clientMessageId: "n2", body: "new2" }));
    await turn();
    sends.push(room.send("a", { clientMessageId: "n3", body: "new3" }));
    const results = await Promise.all(sends);
    expect(results.map((r) => [r.created, r.message.seq])).toEqual([
      [false, 1],
      [true, 6],
      [true, 7],
      [true, 8],
    ]);
    const stored = await store.readRange("default", "p2", { after: 0, limit: 50 });
    expect(stored.map((m) => `${m.seq}:${m.body}`)).toEqual([
      "1:m1",
      "2:m2",
      "3:m3",
      "4:m4",
      "5:m5",
      "6:new1",
      "7:new2",
      "8:new3",
    ]);
    await hub.close();
  });
});

describe("a loaded room answers at once (the reconnect storm's path)", () => {
  it("admission and attach need no wait once loaded; before, they load; closing falls back to the refusal", async () => {
    const hub = hubOver(store);
    await hub.createConversation("default", { id: "warm", members: ["a", "b"] });
    await hub.close();
    const fresh = hubOver(store);
    // Not loaded yet: no host at once, and admission loads the room (a promise).
    expect(fresh.loadedHost("default", "warm")).toBeUndefined();
    const first = fresh.admission("default", "warm", "a");
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe("ok");
    // Loaded now: answered as values, for members and others alike.
    expect(fresh.admission("default", "warm", "b")).toBe("ok");
    expect(fresh.admission("default", "warm", "stranger")).toBe("forbidden");
    expect(await fresh.admission("default", "nope", "a")).toBe("not_found");
    const host = fresh.loadedHost("default", "warm");
    expect(host?.conversationId).toBe("warm");
    // Two sockets attached without waiting share one `synced` frame: same text, same object.
    const conns = [new RecordingConnection(), new RecordingConnection()];
    const sent: OutboundFrame[] = [];
    for (const [i, conn] of conns.entries()) {
      Object.assign(conn, { id: `rec-${i}` });
      const send = conn.send.bind(conn);
      conn.send = (frame) => {
        sent.push(frame);
        send(frame);
      };
      expect(host?.connectLoaded(conn, { app: "default", userId: "a", instanceId: undefined }, 0)).toBe(true);
    }
    await new Promise((r) => setImmediate(r));
    const synced = sent.filter((f) => f.text.includes('"synced"'));
    expect(synced).toHaveLength(2);
    expect(synced[0]).toBe(synced[1]);
    expect(conns.map((c) => c.frames[0])).toEqual([
      { type: "synced", lastSeq: 0 },
      { type: "synced", lastSeq: 0 },
    ]);
    expect(host?.connections).toBe(2);
    // A new message moves the shared frame on: the next socket syncs at the new seq.
    await (await fresh.room("default", "warm")).send("b", { clientMessageId: "k1", body: "hi" });
    const late = new RecordingConnection();
    Object.assign(late, { id: "rec-late" });
    expect(host?.connectLoaded(late, { app: "default", userId: "b", instanceId: undefined }, 1)).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(late.frames[0]).toEqual({ type: "synced", lastSeq: 1 });
    // Closing: nothing is answered at once any more; admission says the relay is shutting down.
    const closing = fresh.close();
    expect(fresh.loadedHost("default", "warm")).toBeUndefined();
    expect(await fresh.admission("default", "warm", "a")).toBe("shutting_down");
    await closing;
    expect(errors).toEqual([]);
  });
});
