/**
 * The edge room's write-ahead log (party/edge/room-wal.ts) in front of a real libSQL server
 * (sqld) reached through a real TCP proxy that cuts it. The actor's storage is an in-memory
 * stand-in with the Durable Object storage's batched calls (the real one runs in
 * test/conformance/edge-room-log.test.ts on local workerd).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CommitBatch, DuplicateMessageError, SupersededBatchError } from "../../party/core/store.ts";
import type { Message } from "../../party/core/types.ts";
import { RoomWal } from "../../party/edge/room-wal.ts";
import type { WalStorage } from "../../party/edge/wal-storage.ts";
import type { LibsqlStore } from "../../store/libsql-store.ts";
import { openStore } from "../../store/open.ts";
import { openWebStore } from "../../store/open-web.ts";
import { type Sqld, startSqld } from "../helpers/sqld.ts";

/** Durable Object storage's batched calls over a Map; puts and deletes of one turn land together. */
class MemoryWalStorage implements WalStorage {
  readonly data = new Map<string, unknown>();
  async get<T>(keys: string[]) {
    const out = new Map<string, T>();
    for (const k of keys) if (this.data.has(k)) out.set(k, structuredClone(this.data.get(k)) as T);
    return out;
  }
  async put<T>(entries: Record<string, T>) {
    if (Object.keys(entries).length > 128) throw new Error("more than 128 keys in one put");
    for (const [k, v] of Object.entries(entries)) {
      if (typeof v === "string" && v.length * 2 > 128 * 1024) throw new Error(`value of ${k} over 128 KiB`);
      this.data.set(k, structuredClone(v));
    }
  }
  async delete(keys: string[]) {
    let n = 0;
    for (const k of keys) if (this.data.delete(k)) n++;
    return n;
  }
  async list<T>(options: { prefix: string }) {
    const out = new Map<string, T>();
    for (const k of [...this.data.keys()].sort())
      if (k.startsWith(options.prefix)) out.set(k, structuredClone(this.data.get(k)) as T);
    return out;
  }
  keys(prefix: string): string[] {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix));
  }
}

const APP = "default";
let sqld: Sqld;
let direct: LibsqlStore;
let conv: string;
let counter = 0;
const errors: unknown[] = [];
const walOf = (storage: WalStorage, maxUnflushedChars?: number) =>
  new RoomWal(openWebStore(sqld.url), storage, APP, conv, {
    onError: (error) => errors.push(error),
    wakeAt: () => undefined,
    ...(maxUnflushedChars === undefined ? {} : { maxUnflushedChars }),
  });
/** libSQL away: every new connection to it closed, the open ones cut. */
const cutLibsql = () => {
  sqld.proxy.blockRequests(/./);
  sqld.proxy.cutAll();
};

function message(seq: number, key: string, body = key): Message {
  return {
    id: `m_${conv}_${seq}`,
    conversationId: conv,
    seq,
    senderId: "ann",
    clientMessageId: key,
    body,
    createdAt: new Date().toISOString(),
    reactions: {},
    replyCount: 0,
  };
}
const batch = (...messages: Message[]): CommitBatch => ({ messages, changes: [], states: [], scrub: [] });
const bodiesInLibsql = async () =>
  (await direct.readRange(APP, conv, { after: 0, limit: 1000 })).map((m) => `${m.seq}:${m.body}`);

/** Polls (bounded) until `check` passes. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

beforeAll(async () => {
  sqld = await startSqld();
  // Migrations (the relay's own start does this; a web store never migrates).
  direct = await openStore({ url: sqld.directUrl, sync: "normal" });
});
afterAll(async () => {
  await direct.close();
  await sqld.stop();
});
beforeEach(async () => {
  conv = `wal${++counter}`;
  errors.length = 0;
  const now = new Date().toISOString();
  await direct.createConversation(
    APP,
    { id: conv, title: null, lastSeq: 0, createdAt: now, lastActivityAt: now },
    ["ann"],
  );
});
afterEach(() => {
  sqld.proxy.blockRequests(null);
});

describe("the edge room's log", () => {
  it("acknowledges while libSQL is cut off, fails reads fast, and lands everything in order once it is back", async () => {
    const storage = new MemoryWalStorage();
    const wal = walOf(storage);
    await wal.loadConversation(APP, conv);
    await wal.appendEntries(APP, conv, batch(message(1, "a")));
    await eventually(async () => (await bodiesInLibsql()).length === 1, "the first batch in libSQL");

    cutLibsql();
    // Handed in back to back, as a room's pipeline does: each is acknowledged from the log alone.
    await Promise.all([
      wal.appendEntries(APP, conv, batch(message(2, "b"))),
      wal.appendEntries(APP, conv, batch(message(3, "c"), message(4, "d"))),
      wal.appendEntries(APP, conv, batch(message(5, "e"))),
    ]);
    expect(storage.keys("wal:").length).toBeGreaterThan(0);
    expect(await bodiesInLibsql()).toEqual(["1:a"]);
    // A read of the conversation waits for the flush; once libSQL has refused it a few times
    // in a row, reads fail at once.
    await eventually(async () => errors.length >= 3, "three failed flushes");
    await expect(wal.readRange(APP, conv, { after: 0, limit: 10 })).rejects.toMatchObject({
      code: "store_unavailable",
    });

    sqld.proxy.blockRequests(null);
    const history = await (async () => {
      for (let i = 0; i < 200; i++) {
        const page = await wal.readRange(APP, conv, { after: 0, limit: 10 }).catch(() => null);
        if (page) return page;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("libSQL never came back for the log");
    })();
    expect(history.map((m) => `${m.seq}:${m.body}`)).toEqual(["1:a", "2:b", "3:c", "4:d", "5:e"]);
    expect(await bodiesInLibsql()).toEqual(["1:a", "2:b", "3:c", "4:d", "5:e"]);
    expect((await direct.loadConversation(APP, conv))?.conversation.lastSeq).toBe(5);
    expect(storage.keys("wal:")).toEqual([]);
    await wal.close();
  });

  it("a new instance flushes what an earlier one left (a batch larger than one stored value included)", async () => {
    const storage = new MemoryWalStorage();
    const first = walOf(storage);
    await first.loadConversation(APP, conv);
    cutLibsql();
    const big = "x".repeat(15_000);
    await first.appendEntries(APP, conv, batch(message(1, "a")));
    await first.appendEntries(
      APP,
      conv,
      batch(message(2, "b", big), message(3, "c", big), message(4, "d", big)),
    );
    // Evicted: this instance is gone, its log stays in the actor's storage.
    await first.close();
    expect(storage.keys("wal:").length).toBeGreaterThan(2);

    sqld.proxy.blockRequests(null);
    const second = walOf(storage);
    const loaded = await second.loadConversation(APP, conv);
    expect(loaded?.conversation.lastSeq).toBe(4);
    const page = await second.readRange(APP, conv, { after: 0, limit: 10 });
    expect(page.map((m) => [m.seq, m.body.length])).toEqual([
      [1, 1],
      [2, 15_000],
      [3, 15_000],
      [4, 15_000],
    ]);
    expect(storage.keys("wal:")).toEqual([]);
    // A retried key is refused by the log's index, as libSQL's unique index would.
    await expect(second.appendEntries(APP, conv, batch(message(5, "c")))).rejects.toBeInstanceOf(
      DuplicateMessageError,
    );
    // …and the room's next batch is refused until it re-planned (the Store contract).
    await expect(second.appendEntries(APP, conv, batch(message(5, "e")))).rejects.toBeInstanceOf(
      SupersededBatchError,
    );
    second.resumeAppends(APP, conv);
    await second.appendEntries(APP, conv, batch(message(5, "e")));
    await eventually(async () => (await bodiesInLibsql()).length === 5, "the fifth message in libSQL");
    await second.close();
  });

  it("keys of messages written before the log existed are imported once, so a retry of one is a duplicate", async () => {
    for (let seq = 1; seq <= 3; seq++)
      await direct.appendEntries(APP, conv, batch(message(seq, `old${seq}`)));
    const storage = new MemoryWalStorage();
    const wal = walOf(storage);
    await wal.loadConversation(APP, conv);
    await expect(wal.appendEntries(APP, conv, batch(message(4, "old2")))).rejects.toBeInstanceOf(
      DuplicateMessageError,
    );
    wal.resumeAppends(APP, conv);
    await wal.appendEntries(APP, conv, batch(message(4, "new")));
    await eventually(async () => (await bodiesInLibsql()).length === 4, "the new message in libSQL");
    expect(await bodiesInLibsql()).toEqual(["1:old1", "2:old2", "3:old3", "4:new"]);
    await wal.close();
  });

  it("refuses new batches once its backlog is full while libSQL is away, and takes them again once it drained", async () => {
    const storage = new MemoryWalStorage();
    const wal = walOf(storage, 2_000);
    await wal.loadConversation(APP, conv);
    cutLibsql();
    let seq = 0;
    let refusal: unknown;
    for (let i = 0; i < 100 && refusal === undefined; i++) {
      try {
        await wal.appendEntries(APP, conv, batch(message(seq + 1, `k${seq + 1}`, "x".repeat(200))));
        seq++;
      } catch (error) {
        refusal = error;
      }
    }
    expect(refusal).toMatchObject({ code: "store_unavailable" });
    // Not acknowledged, so not in the log: what was acknowledged fits the bound.
    expect(seq).toBeGreaterThan(0);
    expect(seq).toBeLessThan(10);
    expect(storage.keys("wal:").length).toBe(seq);

    sqld.proxy.blockRequests(null);
    await eventually(async () => (await bodiesInLibsql()).length === seq, "the backlog in libSQL");
    wal.resumeAppends(APP, conv);
    await wal.appendEntries(APP, conv, batch(message(seq + 1, "after")));
    await eventually(async () => (await bodiesInLibsql()).length === seq + 1, "the next batch in libSQL");
    await wal.close();
  });

  it("runs work that reads libSQL for others only once the flush has landed", async () => {
    const storage = new MemoryWalStorage();
    const wal = walOf(storage);
    await wal.loadConversation(APP, conv);
    cutLibsql();
    await wal.appendEntries(APP, conv, batch(message(1, "a")));
    let ranWith: string[] | undefined;
    wal.afterFlush(() => {
      void bodiesInLibsql().then((b) => {
        ranWith = b;
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(ranWith).toBeUndefined();
    sqld.proxy.blockRequests(null);
    await eventually(async () => ranWith !== undefined, "the work after the flush");
    expect(ranWith).toEqual(["1:a"]);
    await wal.close();
  });
});
