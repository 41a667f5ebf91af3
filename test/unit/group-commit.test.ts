/**
 * The gathering group commit over a real libSQL file: how many transactions a stream of
 * batches becomes, that a steady stream still commits, and how failures are shared out.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SupersededBatchError } from "../../party/core/store.ts";
import type { Message } from "../../party/core/types.ts";
import type { AppendRows } from "../../store/append-rows.ts";
import { GroupCommit } from "../../store/group-commit.ts";
import type { LibsqlStore } from "../../store/libsql-store.ts";
import { openStore } from "../../store/open.ts";

let dir: string;
let store: LibsqlStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-group-"));
  store = await openStore({ url: `file:${join(dir, "p.db")}`, sync: "normal", busyTimeoutMs: 100 });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const seqs = new Map<string, number>();
/** One message for conversation `conv` from `sender` with key `key`, at the conversation's next seq. */
function rows(conv: string, key: string, sender = "a"): AppendRows {
  const seq = (seqs.get(conv) ?? 0) + 1;
  seqs.set(conv, seq);
  const message: Message = {
    id: `m_${conv}_${seq}`,
    conversationId: conv,
    seq,
    senderId: sender,
    clientMessageId: key,
    body: key,
    createdAt: new Date().toISOString(),
    reactions: {},
    replyCount: 0,
  };
  return { app: "default", conversationId: conv, messages: [message], changes: [], states: [], scrub: [] };
}

/** A GroupCommit on the store's own commit connection that records each transaction's conversations. */
function recording() {
  const connection = store.appendConnection;
  if (!connection) throw new Error("a file database has a commit connection");
  const transactions: string[][] = [];
  const group = new GroupCommit((jobs) => {
    connection.write(jobs);
    transactions.push(jobs.map((j) => j.conversationId));
  }, setImmediate);
  return { group, transactions };
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const stored = async (conv: string) =>
  (await store.readRange("default", conv, { after: 0, limit: 100_000 })).map((m) => m.body);

describe("group commit", () => {
  it("a lone batch commits after one quiet turn", async () => {
    const { group, transactions } = recording();
    let done = false;
    const lone = group.append(rows("lone", "k1")).then(() => {
      done = true;
    });
    // Counted in turns (a loaded machine stretches milliseconds, not the rule).
    let turns = 0;
    while (!done && turns < 100) {
      await turn();
      turns++;
    }
    await lone;
    expect(transactions).toEqual([["lone"]]);
    expect(turns).toBeLessThanOrEqual(3);
    expect(await stored("lone")).toEqual(["k1"]);
  });

  it("batches that keep arriving, one per turn, share transactions", async () => {
    const { group, transactions } = recording();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      pending.push(group.append(rows(`c${i}`, `k${i}`)));
      await turn();
    }
    await Promise.all(pending);
    expect(transactions.flat()).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`));
    // Committing at the next turn, as before, gives one or two per transaction.
    expect(transactions.length).toBeLessThan(10);
  });

  it("a steady stream still commits: the first batch does not wait for the stream to end", async () => {
    const { group, transactions } = recording();
    // Counted in event-loop turns, not milliseconds: a loaded machine stretches every turn, and
    // a wall-clock bound then measures the machine. The rule under test is in turns anyway: a
    // group gathers while batches keep arriving, but never past GATHER_MAX_MS from its first.
    const streamTurns = 2_000;
    let turnsBeforeFirstDone = -1;
    let turnNow = 0;
    const first = group.append(rows("stream", "first")).then(() => {
      turnsBeforeFirstDone = turnNow;
    });
    const pending: Promise<void>[] = [first];
    for (turnNow = 1; turnNow <= streamTurns; turnNow++) {
      pending.push(group.append(rows("stream", `s${turnNow}`)));
      await turn();
    }
    await Promise.all(pending);
    // Durable long before the stream ended (in a few hundred turns at most: as many as fit in
    // GATHER_MAX_MS, on the fastest machine), and the stream was cut into many groups.
    expect(turnsBeforeFirstDone).toBeGreaterThan(0);
    expect(turnsBeforeFirstDone).toBeLessThan(streamTurns / 2);
    expect(transactions.length).toBeGreaterThan(3);
    expect((await stored("stream")).length).toBe(pending.length);
  });

  it("a group that gathered during a slow commit goes as soon as that commit ends", async () => {
    const connection = store.appendConnection;
    if (!connection) throw new Error("a file database has a commit connection");
    // An asynchronous commit, as a remote store's is, that takes 20 ms.
    const commitMs = 20;
    const transactions: number[] = [];
    // In turns of the loop below, not milliseconds: a loaded machine stretches time, not turns.
    let turnNow = 0;
    let firstEndedAt = -1;
    let secondStartedAt = -1;
    const group = new GroupCommit(async (jobs) => {
      if (transactions.length === 1) secondStartedAt = turnNow;
      transactions.push(jobs.length);
      await new Promise((r) => setTimeout(r, commitMs));
      connection.write(jobs);
      if (transactions.length === 1) firstEndedAt = turnNow;
    }, setImmediate);
    const pending = [group.append(rows("slow", "s0"))];
    // A batch every turn, each turn busy for 0.05 ms as a relay's turns are (parsing requests):
    // the first ones gather behind the first commit. Until that commit has ended and a few turns
    // more, counted in turns: a deadline in milliseconds let a descheduled process end the loop
    // before the first commit started, with every batch in one group (seen once under load).
    const deadline = performance.now() + 10_000;
    for (
      let i = 1;
      i < 100_000 && performance.now() < deadline && (firstEndedAt < 0 || i <= firstEndedAt + 5);
      i++
    ) {
      turnNow = i;
      const busyUntil = performance.now() + 0.05;
      while (performance.now() < busyUntil) {
        // a turn's work
      }
      pending.push(group.append(rows(`slow${i % 8}`, `s${i}`)));
      await turn();
    }
    await Promise.all(pending);
    expect(transactions.length).toBeGreaterThan(1);
    expect(firstEndedAt).toBeGreaterThan(0);
    // The second group's first batch is older than GATHER_MAX_MS when the first commit ends:
    // it goes at the next look, within a turn or two, instead of gathering for another
    // GATHER_MAX_MS (about 20 of these 0.05 ms turns) behind a commit that already took 20 ms.
    expect(secondStartedAt - firstEndedAt).toBeLessThanOrEqual(2);
  });

  it("a retried key fails only its own room's batch", async () => {
    const { group } = recording();
    await group.append(rows("dup", "taken"));
    const results = await Promise.allSettled([
      group.append(rows("ok1", "x")),
      group.append(rows("dup", "taken")), // seq 2, with the key of seq 1
      group.append(rows("ok2", "y")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE constraint failed/);
    expect([await stored("ok1"), await stored("dup"), await stored("ok2")]).toEqual([
      ["x"],
      ["taken"],
      ["y"],
    ]);
  });

  it("a locked database fails the whole group, and nothing of it is stored", async () => {
    const { group } = recording();
    const locker = createClient({ url: `file:${join(dir, "p.db")}` });
    const tx = await locker.transaction("write");
    await tx.execute("CREATE TABLE IF NOT EXISTS lock_holder (x)");
    const failed = await Promise.allSettled([group.append(rows("l1", "a")), group.append(rows("l2", "b"))]);
    await tx.rollback();
    locker.close();
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect([await stored("l1"), await stored("l2")]).toEqual([[], []]);
  });

  it("commits one group at a time; after a room's batch fails, its later ones are superseded until released", async () => {
    const connection = store.appendConnection;
    if (!connection) throw new Error("a file database has a commit connection");
    // An asynchronous commit, as a remote store's is, whose first transaction is lost.
    let failNext = true;
    let running = 0;
    let overlapped = false;
    let firstWriteStarted!: () => void;
    const writing = new Promise<void>((r) => {
      firstWriteStarted = r;
    });
    const group = new GroupCommit(async (jobs) => {
      running++;
      overlapped ||= running > 1;
      firstWriteStarted();
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (failNext) {
        failNext = false;
        throw new Error("connection reset");
      }
      connection.write(jobs);
    }, setImmediate);

    const a1 = group.append(rows("A", "a1")).catch((e: unknown) => e);
    // Wait until the first group (A's batch alone) is being written, not for a fixed time: on a
    // loaded machine a 1 ms timer can fire while that group still gathers, and then B's batch
    // shares the failing transaction (which the next test covers).
    await writing;
    const a2 = group.append(rows("A", "a2")).catch((e: unknown) => e);
    const b1 = group.append(rows("B", "b1")).catch((e: unknown) => e);
    expect(String(await a1)).toMatch(/connection reset/);
    expect(await a2).toBeInstanceOf(SupersededBatchError);
    // Still fenced: a new batch of A is refused without being written.
    expect(await group.append(rows("A", "a3")).catch((e: unknown) => e)).toBeInstanceOf(SupersededBatchError);
    expect(await b1).toBeUndefined();

    group.release("default", "A");
    seqs.set("A", 0); // the room plans again from its last committed seq
    await group.append(rows("A", "a1"));
    expect(await stored("A")).toEqual(["a1"]);
    expect(await stored("B")).toEqual(["b1"]);
    expect(overlapped).toBe(false);
  });

  it("rooms that shared a lost transaction each hear its error, are fenced, and recover on their own", async () => {
    const connection = store.appendConnection;
    if (!connection) throw new Error("a file database has a commit connection");
    let failNext = true;
    const group = new GroupCommit(async (jobs) => {
      await new Promise((r) => setTimeout(r, 1));
      if (failNext) {
        failNext = false;
        throw new Error("connection reset");
      }
      connection.write(jobs);
    }, setImmediate);
    // Both in one group: the transaction that carried them failed, so neither is stored, and
    // both rooms must hear it (each re-plans from its last committed seq).
    const [c1, d1] = await Promise.all([
      group.append(rows("C", "c1")).catch((e: unknown) => e),
      group.append(rows("D", "d1")).catch((e: unknown) => e),
    ]);
    expect([String(c1), String(d1)]).toEqual(["Error: connection reset", "Error: connection reset"]);
    expect([await stored("C"), await stored("D")]).toEqual([[], []]);
    expect(await group.append(rows("D", "d2")).catch((e: unknown) => e)).toBeInstanceOf(SupersededBatchError);
    // Releasing one room does not release the other.
    group.release("default", "C");
    seqs.set("C", 0);
    await group.append(rows("C", "c1"));
    expect(await group.append(rows("D", "d2")).catch((e: unknown) => e)).toBeInstanceOf(SupersededBatchError);
    group.release("default", "D");
    seqs.set("D", 0);
    await group.append(rows("D", "d1"));
    expect([await stored("C"), await stored("D")]).toEqual([["c1"], ["d1"]]);
  });

  it("a failure that supersedes everything queued behind it leaves the group taking batches", async () => {
    // Found on workerd (PARLEY_EDGE_COMMIT=libsql): a lost connection to sqld, then the room
    // never answered a send again. The one room's next batch was queued while its failing
    // commit ran; the failure superseded it and emptied the queue, and the group stopped looking.
    const connection = store.appendConnection;
    if (!connection) throw new Error("a file database has a commit connection");
    let failNext = true;
    let firstWriteStarted!: () => void;
    const writing = new Promise<void>((r) => {
      firstWriteStarted = r;
    });
    const group = new GroupCommit(async (jobs) => {
      firstWriteStarted();
      await new Promise((r) => setTimeout(r, 5));
      if (failNext) {
        failNext = false;
        throw new Error("Network connection lost.");
      }
      connection.write(jobs);
    }, setImmediate);
    const e1 = group.append(rows("E", "e1")).catch((e: unknown) => e);
    await writing;
    const e2 = group.append(rows("E", "e2")).catch((e: unknown) => e);
    expect(String(await e1)).toMatch(/Network connection lost/);
    expect(await e2).toBeInstanceOf(SupersededBatchError);

    group.release("default", "E");
    seqs.set("E", 0);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("still waiting after 5 s"), 5000);
    });
    const again = group.append(rows("E", "e1")).then(() => "stored");
    expect(await Promise.race([again, late])).toBe("stored");
    clearTimeout(timer);
    expect(await stored("E")).toEqual(["e1"]);
  });
});

describe("webhook cursors in the group commit", () => {
  /** An endpoint (a cursor of a removed endpoint is never written). */
  const endpoint = async (id: string) =>
    store.webhooks.createEndpoint({
      app: "default",
      id,
      url: "https://example.com/hook",
      secret: `whsec_${Buffer.alloc(32, 1).toString("base64")}`,
      events: [],
      status: "active",
      lastError: null,
      failingSince: null,
      createdAt: new Date().toISOString(),
    });
  const cursorOf = async (id: string, conv: string) => {
    const { lastSeq, lastEvent } = await store.webhooks.readCursor("default", id, conv);
    return { lastSeq, lastEvent };
  };
  const cursor = (endpointId: string, conversationId: string, lastSeq: number) => ({
    app: "default",
    endpointId,
    conversationId,
    lastSeq,
    lastEvent: 0,
  });

  it("a lane's cursor shares the transaction of the batches gathering with it, and is durable when it resolves", async () => {
    await endpoint("we_1");
    const { group, transactions } = recording();
    await Promise.all([
      group.append(rows("w1", "a")),
      group.appendCursors("default", "w1", [cursor("we_1", "w1", 7)]),
      group.append(rows("w2", "b")),
    ]);
    expect(transactions).toEqual([["w1", "w1", "w2"]]);
    expect(await cursorOf("we_1", "w1")).toEqual({ lastSeq: 7, lastEvent: 0 });
    // Only ever forward, and nothing for an endpoint that does not exist.
    await group.appendCursors("default", "w1", [cursor("we_1", "w1", 3), cursor("we_gone", "w1", 9)]);
    expect(await cursorOf("we_1", "w1")).toEqual({ lastSeq: 7, lastEvent: 0 });
    expect(await cursorOf("we_gone", "w1")).toEqual({ lastSeq: 0, lastEvent: 0 });
  });

  it("a cursor is no room's batch: a failed batch of its conversation neither refuses it nor is fenced by it", async () => {
    await endpoint("we_2");
    const { group } = recording();
    await group.append(rows("wd", "taken"));
    const results = await Promise.allSettled([
      group.append(rows("wd", "taken")), // a retried key: this room's batch fails
      group.appendCursors("default", "wd", [cursor("we_2", "wd", 1)]),
      group.append(rows("wok", "fine")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    // The room is fenced until it re-plans; the lane's cursor still goes.
    await expect(group.append(rows("wd", "later"))).rejects.toBeInstanceOf(SupersededBatchError);
    await group.appendCursors("default", "wd", [cursor("we_2", "wd", 2)]);
    expect(await cursorOf("we_2", "wd")).toEqual({ lastSeq: 2, lastEvent: 0 });
  });

  it("the store's webhook cursors go through its group commit: one transaction with the sends beside them", async () => {
    await endpoint("we_3");
    const connection = store.appendConnection;
    if (!connection) throw new Error("a file database has a commit connection");
    const writes: number[] = [];
    const write = connection.write.bind(connection);
    connection.write = (jobs) => {
      writes.push(jobs.length);
      write(jobs);
    };
    const { messages, changes, states, scrub } = rows("ws", "m");
    await Promise.all([
      store.appendEntries("default", "ws", { messages, changes, states, scrub }),
      store.webhooks.advanceCursor("default", "we_3", "ws", { lastSeq: 1, lastEvent: 0 }),
    ]);
    expect(writes).toEqual([2]);
    expect(await cursorOf("we_3", "ws")).toEqual({ lastSeq: 1, lastEvent: 0 });
  });
});
