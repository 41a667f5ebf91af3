/**
 * A room's load on its own connection (store/native-reads.ts) reads what the @libsql/client path
 * reads: the conversation, its members in the same order, each one's unread count; it sees
 * commits made on the other connections, and null for a conversation that is not there.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Message } from "../../party/core/types.ts";
import { LibsqlStore } from "../../store/libsql-store.ts";
import { openStore } from "../../store/open.ts";

let dir: string;
let store: LibsqlStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-native-reads-"));
  store = await openStore({ url: `file:${join(dir, "p.db")}`, sync: "normal", busyTimeoutMs: 100 });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function message(seq: number, senderId: string): Message {
  return {
    id: `m_${seq}`,
    conversationId: "c",
    seq,
    senderId,
    clientMessageId: `k${seq}`,
    body: `b${seq}`,
    createdAt: new Date(1_700_000_000_000 + seq).toISOString(),
    reactions: {},
    replyCount: 0,
  };
}

it("loads what the @libsql/client path loads, commits of other connections included", async () => {
  const at = new Date(1_700_000_000_000).toISOString();
  await store.createConversation(
    "default",
    { id: "c", title: "T", lastSeq: 0, createdAt: at, lastActivityAt: at },
    ["zed", "ann", "bob"],
  );
  const viaClient = new LibsqlStore(store.client); // no native reads: drizzle on the shared client
  const messages = [message(1, "ann"), message(2, "bob"), message(3, "ann"), message(4, "zed")];
  store.appendConnection?.write([
    { app: "default", conversationId: "c", messages, changes: [], states: [], scrub: [] },
  ]);
  await store.setLastRead("default", "c", "ann", 2);
  const native = await store.loadConversation("default", "c");
  expect(native).toEqual(await viaClient.loadConversation("default", "c"));
  // The same order as the other path (the members table's key order).
  expect(native?.members.map((m) => m.userId)).toEqual(["ann", "bob", "zed"]);
  expect(native?.unread).toEqual(
    new Map([
      ["zed", 3],
      ["ann", 1],
      ["bob", 3],
    ]),
  );
  expect(native?.conversation).toMatchObject({ id: "c", title: "T", lastSeq: 4, messageCount: 4 });
  expect(await store.loadConversation("default", "nope")).toBeNull();
  expect(await store.loadConversation("other-app", "c")).toBeNull();
});
