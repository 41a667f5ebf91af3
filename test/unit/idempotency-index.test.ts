/**
 * The idempotency index orders keys first (migration 0007), so the SDK's keys (time first,
 * client/ids.ts) land together at its end. Checked on real libSQL files: the SDK's keys sort by
 * time, a database made before the migration keeps its messages and its uniqueness after it,
 * and the relay's lookups by key still seek in the index.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newClientMessageId } from "../../client/ids.ts";
import { DuplicateMessageError } from "../../party/core/store.ts";
import type { Message } from "../../party/core/types.ts";
import { openStore } from "../../store/open.ts";

const MIGRATIONS = fileURLToPath(new URL("../../store/migrations", import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-idem-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const message = (conv: string, seq: number, sender: string, key: string): Message => ({
  id: `m_${conv}_${seq}`,
  conversationId: conv,
  seq,
  senderId: sender,
  clientMessageId: key,
  body: `${sender} ${key}`,
  createdAt: new Date().toISOString(),
  reactions: {},
  replyCount: 0,
});
const batch = (messages: Message[]) => ({ messages, changes: [], states: [], scrub: [] });

describe("the SDK's idempotency keys", () => {
  it("are valid keys that sort by the time they were made, whatever their random part", () => {
    const t = Date.UTC(2026, 11, 2, 6, 0, 0);
    const times = [0, 1, 63, 64, 1000, 60_000, 86_400_000, 365 * 86_400_000].map((d) => t + d);
    for (let round = 0; round < 50; round++) {
      const keys = times.map((at) => newClientMessageId(at));
      for (const key of keys) expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
      // Code-unit order, as SQLite's BINARY collation compares them.
      expect([...keys].sort()).toEqual(keys);
    }
    const many = new Set(Array.from({ length: 1000 }, () => newClientMessageId(t)));
    expect(many.size).toBe(1000);
  });
});

describe("the idempotency index (migration 0007)", () => {
  it("a database made before it keeps its messages and refuses a retried key after it", async () => {
    // The migrations up to 0006 only, as a relay of yesterday left its file.
    const old = join(dir, "old-migrations");
    mkdirSync(join(old, "meta"), { recursive: true });
    const journal = JSON.parse(readFileSync(join(MIGRATIONS, "meta", "_journal.json"), "utf8")) as {
      entries: Array<{ idx: number; tag: string }>;
    };
    const before = journal.entries.filter((e) => e.idx <= 6);
    expect(before.length).toBe(7);
    for (const e of before) cpSync(join(MIGRATIONS, `${e.tag}.sql`), join(old, `${e.tag}.sql`));
    writeFileSync(join(old, "meta", "_journal.json"), JSON.stringify({ ...journal, entries: before }));
    const url = `file:${join(dir, "p.db")}`;
    const client = createClient({ url });
    await migrate(drizzle(client), { migrationsFolder: old });
    const columnsOf = async () =>
      (await client.execute("PRAGMA index_info('messages_idempotency')")).rows.map((r) => String(r.name));
    expect(await columnsOf()).toEqual(["app", "conversation_id", "sender_id", "client_message_id"]);
    await client.execute({
      sql: `INSERT INTO conversations (app, id, last_seq, created_at, last_activity_at) VALUES ('default', 'c1', 0, ?, ?)`,
      args: [new Date().toISOString(), new Date().toISOString()],
    });
    await client.execute({
      sql: `INSERT INTO messages (app, conversation_id, seq, id, sender_id, client_message_id, body, created_at)
            VALUES ('default', 'c1', 1, 'm_c1_1', 'ann', 'k-old', 'from before', ?)`,
      args: [new Date().toISOString()],
    });
    client.close();

    const store = await openStore({ url, sync: "normal" });
    try {
      const reopened = createClient({ url });
      const columns = (await reopened.execute("PRAGMA index_info('messages_idempotency')")).rows.map((r) =>
        String(r.name),
      );
      reopened.close();
      expect(columns).toEqual(["app", "client_message_id", "conversation_id", "sender_id"]);
      // The message from before is found by its key, and its key is still taken for its sender.
      const found = await store.findByClientIds("default", "c1", [
        { senderId: "ann", clientMessageId: "k-old" },
      ]);
      expect(found.map((m) => m.body)).toEqual(["from before"]);
      await expect(
        store.appendEntries("default", "c1", batch([message("c1", 2, "ann", "k-old")])),
      ).rejects.toBeInstanceOf(DuplicateMessageError);
      // Per sender, as before: another member may use the same key (once the room has
      // re-planned after its refused batch, as a room does).
      store.resumeAppends("default", "c1");
      await store.appendEntries("default", "c1", batch([message("c1", 2, "bob", "k-old")]));
      expect(
        (await store.readRange("default", "c1", { after: 0, limit: 10 })).map((m) => m.senderId),
      ).toEqual(["ann", "bob"]);
    } finally {
      await store.close();
    }
  });

  it("a lookup by conversation and key seeks in the index", async () => {
    const url = `file:${join(dir, "p.db")}`;
    const store = await openStore({ url, sync: "normal" });
    await store.close();
    const client = createClient({ url });
    try {
      const plan = await client.execute(
        "EXPLAIN QUERY PLAN SELECT seq FROM messages WHERE app = 'default' AND conversation_id = 'c1' AND client_message_id IN ('a', 'b')",
      );
      const detail = plan.rows.map((r) => String(r.detail)).join("\n");
      expect(detail).toMatch(
        /USING (COVERING )?INDEX messages_idempotency \(app=\? AND client_message_id=\? AND conversation_id=\?\)/,
      );
    } finally {
      client.close();
    }
  });
});
