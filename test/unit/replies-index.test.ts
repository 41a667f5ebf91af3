/**
 * The replies index holds replies only (a partial index): every indexed row costs each group
 * commit another page, and most messages are not replies. Reading a message's replies still
 * goes through it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { and, asc, eq, gt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { afterEach, beforeEach, expect, it } from "vitest";
import { openStore } from "../../store/open.ts";
import { messages } from "../../store/schema.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-replies-index-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it("is partial (replies only) and serves the replies query", async () => {
  const url = `file:${join(dir, "p.db")}`;
  const store = await openStore({ url, sync: "normal" });
  await store.close();
  const client = createClient({ url });
  try {
    const indexes = await client.execute("PRAGMA index_list(messages)");
    const replies = indexes.rows.find((r) => r.name === "messages_replies");
    expect(replies?.partial).toBe(1);
    const sql = (await client.execute("SELECT sql FROM sqlite_master WHERE name = 'messages_replies'"))
      .rows[0]?.sql;
    expect(String(sql)).toMatch(/WHERE reply_to IS NOT NULL$/);

    // The query readReplies runs, as drizzle renders it.
    const query = drizzle(client)
      .select()
      .from(messages)
      .where(
        and(
          eq(messages.app, "a"),
          eq(messages.conversationId, "c"),
          eq(messages.replyTo, 1),
          gt(messages.seq, 0),
        ),
      )
      .orderBy(asc(messages.seq))
      .limit(50)
      .toSQL();
    const plan = await client.execute({
      sql: `EXPLAIN QUERY PLAN ${query.sql}`,
      args: query.params as never,
    });
    expect(plan.rows.map((r) => String(r.detail)).join("\n")).toMatch(/USING INDEX messages_replies/);
  } finally {
    client.close();
  }
});
