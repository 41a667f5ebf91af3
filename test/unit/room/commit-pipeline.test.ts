/**
 * The commit pipeline on its own, over libSQL in memory: seqs in submit order, retries that
 * join the first attempt, keys beyond memory answered from the store, and a failed batch that
 * leaves no gap (its later batches come back superseded and go out again).
 */
import { createClient } from "@libsql/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ParleyError } from "../../../party/core/errors.ts";
import { CommitPipeline } from "../../../party/core/room/commit-pipeline.ts";
import type { RoomLog } from "../../../party/core/room/room-log.ts";
import { type Store, SupersededBatchError } from "../../../party/core/store.ts";
import type { Message } from "../../../party/core/types.ts";
import type { LibsqlStore } from "../../../store/libsql-store.ts";
import { environment, fileStore, freshLog, inMemoryStore, overriding } from "./fixtures.ts";

let store: LibsqlStore;
beforeEach(async () => {
  store = await inMemoryStore();
});
afterEach(async () => {
  await store.close();
});

/** A pipeline over `s` whose commits are applied to `log` and recorded. */
function pipelineOver(s: Store, log: RoomLog) {
  const committed: Message[] = [];
  const replayed: string[] = [];
  const { env, errors } = environment(s);
  const pipeline = new CommitPipeline("default", log.conversation.id, log, env, {
    committed: (entries, states) => {
      for (const entry of entries) {
        log.apply(entry);
        if (entry.type === "message") committed.push(entry.message);
      }
      for (const state of states) log.setState(state);
    },
    replayed: (sender) => replayed.push(sender),
    attendance: () => undefined,
  });
  return { pipeline, committed, replayed, errors };
}

const stored = async (conv: string) =>
  (await store.readRange("default", conv, { after: 0, limit: 1000 })).map((m) => [m.seq, m.body]);

describe("commit pipeline", () => {
  it("gives concurrent sends gap-free seqs in the order they were submitted, in few batches", async () => {
    let batches = 0;
    const counting = overriding(store, {
      appendEntries: (app, id, batch) => {
        batches++;
        return store.appendEntries(app, id, batch);
      },
    });
    const log = await freshLog(store, "c", ["a"]);
    const { pipeline, committed } = pipelineOver(counting, log);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => pipeline.submit("a", { clientMessageId: `k${i}`, body: `${i}` })),
    );
    expect(results.map((r) => r.message.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(results.every((r) => r.created)).toBe(true);
    expect(committed.map((m) => m.seq)).toEqual(results.map((r) => r.message.seq));
    expect(batches).toBeLessThan(5);
    expect(log.lastSeq).toBe(50);
    expect((await stored("c")).length).toBe(50);
  });

  it("a retry of a send in flight joins it; the same key with other content is 409", async () => {
    const log = await freshLog(store, "c", ["a"]);
    const { pipeline } = pipelineOver(store, log);
    const first = pipeline.submit("a", { clientMessageId: "k", body: "hi" });
    const retry = await pipeline.known("a", { clientMessageId: "k", body: "hi" });
    expect(retry).toMatchObject({ created: false, message: { seq: 1 } });
    expect(() => pipeline.known("a", { clientMessageId: "k", body: "other" })).toThrow(/different body/);
    expect((await first).created).toBe(true);
    expect(await pipeline.known("a", { clientMessageId: "k", body: "hi" })).toMatchObject({
      created: false,
      message: { seq: 1 },
    });
    expect(await stored("c")).toEqual([[1, "hi"]]);
  });

  it("the same key submitted twice in one turn is queued once, and both get the same message", async () => {
    const log = await freshLog(store, "c", ["a"]);
    const { pipeline, errors } = pipelineOver(store, log);
    const [first, second] = await Promise.all([
      pipeline.submit("a", { clientMessageId: "twice", body: "x" }),
      pipeline.submit("a", { clientMessageId: "twice", body: "x" }),
    ]);
    expect(first).toMatchObject({ created: true, message: { seq: 1 } });
    expect(second).toMatchObject({ created: false, message: { seq: 1 } });
    expect(errors).toEqual([]);
    expect(await stored("c")).toEqual([[1, "x"]]);
  });

  // On `file::memory:` this also failed before the store stopped reconnecting after a refused
  // write: the fresh connection was a new, empty database.
  it("a key the window no longer holds is found by the store's index: answered once, a replay", async () => {
    const old = await freshLog(store, "c", ["a"]);
    const first = pipelineOver(store, old);
    await first.pipeline.submit("a", { clientMessageId: "old", body: "x" });
    // A new room instance with an empty window (as after a reload beyond the buffer).
    const log = await freshLog(store, "d", ["a"]);
    Object.assign(log.conversation, { id: "c", lastSeq: 1 });
    const { pipeline, replayed, committed } = pipelineOver(store, log);
    const [again, fresh] = await Promise.all([
      pipeline.submit("a", { clientMessageId: "old", body: "x" }),
      pipeline.submit("a", { clientMessageId: "new", body: "y" }),
    ]);
    expect(again).toMatchObject({ created: false, message: { seq: 1 } });
    expect(fresh).toMatchObject({ created: true, message: { seq: 2 } });
    expect(replayed).toEqual(["a"]);
    expect(committed.map((m) => m.seq)).toEqual([2]);
    expect(await stored("c")).toEqual([
      [1, "x"],
      [2, "y"],
    ]);
  });

  it("a failed batch: its senders get 503, later batches are re-planned after it, no gap", async () => {
    // A real lock: another connection holds the database's write lock, so the group commit that
    // carries the first batch fails (busy) and fences the conversation, as in production.
    const file = await fileStore();
    try {
      const log = await freshLog(file.store, "c", ["a"]);
      const { pipeline, errors } = pipelineOver(file.store, log);
      const locker = createClient({ url: `file:${file.path}` });
      const tx = await locker.transaction("write");
      await tx.execute("UPDATE conversations SET title = 'locked' WHERE id = 'c'");
      const failed = pipeline.submit("a", { clientMessageId: "f", body: "lost" }).catch((e: unknown) => e);
      await new Promise((r) => setImmediate(r)); // the first batch is on its way
      const later = Array.from({ length: 5 }, (_, i) =>
        pipeline.submit("a", { clientMessageId: `l${i}`, body: `${i}` }),
      );
      const refusal = await failed;
      await tx.rollback();
      locker.close();
      expect(refusal).toBeInstanceOf(ParleyError);
      expect((refusal as ParleyError).status).toBe(503);
      const results = await Promise.all(later);
      expect(results.map((r) => r.message.seq)).toEqual([1, 2, 3, 4, 5]);
      const rows = await file.store.readRange("default", "c", { after: 0, limit: 100 });
      expect(rows.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(errors.length).toBeGreaterThan(0);
      // The refused send may be retried with its key: stored once, after the others.
      expect(await pipeline.submit("a", { clientMessageId: "f", body: "lost" })).toMatchObject({
        created: true,
        message: { seq: 6 },
      });
    } finally {
      await file.dispose();
    }
  });

  it("after a failure it waits for its later batches to come back superseded, however late", async () => {
    // A store whose refusals of the later batches arrive 20 ms after the failure (an asynchronous
    // store may answer them whenever it likes): re-planning before they are back would strand them.
    let fenced = false;
    let failures = 1;
    const lateFence = overriding(store, {
      appendEntries: async (app, id, batch) => {
        if (failures > 0) {
          failures--;
          fenced = true;
          await new Promise((r) => setTimeout(r, 5));
          throw new Error("connection reset");
        }
        if (fenced) {
          await new Promise((r) => setTimeout(r, 20));
          throw new SupersededBatchError("an earlier batch failed");
        }
        return store.appendEntries(app, id, batch);
      },
      resumeAppends: (app, id) => {
        fenced = false;
        store.resumeAppends(app, id);
      },
    });
    const log = await freshLog(store, "c", ["a"]);
    const { pipeline } = pipelineOver(lateFence, log);
    const failed = pipeline.submit("a", { clientMessageId: "f", body: "lost" }).catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    const later = pipeline.submit("a", { clientMessageId: "l", body: "kept" });
    expect(await failed).toBeInstanceOf(ParleyError);
    const answer = await Promise.race([
      later,
      new Promise((_, reject) => setTimeout(() => reject(new Error("the later send was stranded")), 2_000)),
    ]);
    expect(answer).toMatchObject({ created: true, message: { seq: 1, body: "kept" } });
  });

  it("drained() resolves once every queued send is durable, and at once when idle", async () => {
    const log = await freshLog(store, "c", ["a"]);
    const { pipeline } = pipelineOver(store, log);
    await pipeline.drained();
    const sends = Array.from({ length: 20 }, (_, i) =>
      pipeline.submit("a", { clientMessageId: `k${i}`, body: "b" }),
    );
    expect(pipeline.busy).toBe(true);
    let settled = 0;
    for (const s of sends) void s.then(() => settled++);
    await pipeline.drained();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(20);
    expect(pipeline.busy).toBe(false);
    expect((await stored("c")).length).toBe(20);
  });
});
