/**
 * The group commit's own connection over a real libSQL file: a group is written as multi-row
 * INSERTs of at most ROWS_PER_STATEMENT rows, so a group larger than that spans statements;
 * every row must land, in order, and a refused row must leave nothing of the group behind.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Message } from "../../party/core/types.ts";
import type { AppendRows } from "../../store/append-rows.ts";
import type { LibsqlStore } from "../../store/libsql-store.ts";
import { ROWS_PER_STATEMENT } from "../../store/native-append.ts";
import { openStore } from "../../store/open.ts";

let dir: string;
let store: LibsqlStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-native-"));
  store = await openStore({ url: `file:${join(dir, "p.db")}`, sync: "normal", busyTimeoutMs: 100 });
  for (const id of ["a", "b", "c"]) {
    const at = new Date(1_700_000_000_000).toISOString();
    const record = { id, title: null, lastSeq: 0, createdAt: at, lastActivityAt: at };
    await store.createConversation("default", record, ["u1", "u2"]);
  }
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function batch(conv: string, fromSeq: number, count: number, key = (seq: number) => `k${seq}`): AppendRows {
  const messages: Message[] = [];
  for (let seq = fromSeq; seq < fromSeq + count; seq++) {
    const message: Message = {
      id: `m_${conv}_${seq}`,
      conversationId: conv,
      seq,
      senderId: seq % 2 ? "u1" : "u2",
      clientMessageId: key(seq),
      body: `${conv} ${seq}`,
      createdAt: new Date(1_700_000_000_000 + seq).toISOString(),
      reactions: {},
      replyCount: 0,
    };
    if (seq % 5 === 0) message.meta = { n: seq };
    messages.push(message);
  }
  return { app: "default", conversationId: conv, messages, changes: [], states: [], scrub: [] };
}

const read = (conv: string) => store.readRange("default", conv, { after: 0, limit: 10_000 });

describe("the commit connection's multi-row INSERTs", () => {
  it("stores a group of more rows than one statement holds: every row, in order, meta included", async () => {
    const connection = store.appendConnection;
    if (!connection) throw new Error("a file database has a commit connection");
    // 2 full statements and a partial one, with rooms' batches crossing the statement borders.
    const jobs = [batch("a", 1, 50), batch("b", 1, 70), batch("a", 51, 9), batch("c", 1, 1)];
    const total = jobs.reduce((n, j) => n + j.messages.length, 0);
    expect(total).toBeGreaterThan(2 * ROWS_PER_STATEMENT);
    await connection.write(jobs);
    const a = await read("a");
    expect(a.map((m) => m.seq)).toEqual(Array.from({ length: 59 }, (_, i) => i + 1));
    expect(a[9]).toEqual(batch("a", 10, 1).messages[0]);
    expect((await read("b")).map((m) => m.body)).toEqual(batch("b", 1, 70).messages.map((m) => m.body));
    expect(await read("c")).toHaveLength(1);
    expect((await store.loadConversation("default", "b"))?.conversation.lastSeq).toBe(70);
  });

  it("a refused row in a later statement leaves nothing of the group", async () => {
    const connection = store.appendConnection;
    if (!connection) throw new Error("a file database has a commit connection");
    await connection.write([batch("a", 1, 1)]);
    // Row 100 of the group (the second statement) repeats u1's key k1 of conversation a.
    const clash = batch("a", 2, 120, (seq) => (seq === 101 ? "k1" : `k${seq}`));
    expect(clash.messages[99]?.senderId).toBe("u1");
    expect(() => connection.write([batch("b", 1, 3), clash])).toThrow(/UNIQUE constraint failed/);
    expect((await read("a")).map((m) => m.seq)).toEqual([1]);
    expect(await read("b")).toEqual([]);
    // The connection is usable again afterwards.
    await connection.write([batch("b", 1, 3)]);
    expect(await read("b")).toHaveLength(3);
  });
});
