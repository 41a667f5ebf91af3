/**
 * A room's load on its own connection (store/native-reads.ts) reads what the @libsql/client path
 * reads: the conversation, its members in the same order, each one's unread count, the tail of
 * its log (changes with their targets' latest state, a deleted message's edits without text),
 * and profiles; it sees commits made on the other connections, and null for a conversation that
 * is not there.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Change, Message } from "../../party/core/types.ts";
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

it("reads the log's tail and profiles as the @libsql/client path does", async () => {
  const at = new Date(1_700_000_000_000).toISOString();
  await store.createConversation(
    "default",
    { id: "c", title: null, lastSeq: 0, createdAt: at, lastActivityAt: at },
    ["ann", "bob"],
  );
  const viaClient = new LibsqlStore(store.client);
  const m1 = { ...message(1, "ann"), meta: { k: 1 } };
  const m2 = message(2, "bob");
  const m3 = { ...message(3, "ann"), replyTo: 1 };
  store.appendConnection?.write([
    { app: "default", conversationId: "c", messages: [m1, m2, m3], changes: [], states: [], scrub: [] },
  ]);
  // An edit of 2, a reaction to 1, then 2 deleted: the edit's text must not come back.
  const edit: Change = { seq: 4, target: 2, kind: "edit", userId: "bob", at, body: "edited" };
  const react: Change = { seq: 5, target: 1, kind: "react", userId: "bob", at, key: "+1" };
  const del: Change = { seq: 6, target: 2, kind: "delete", userId: "bob", at };
  const m1State: Message = {
    ...m1,
    reactions: { "+1": { count: 1, users: ["bob"] } } as Message["reactions"],
    replyCount: 1,
  };
  const m2State: Message = { ...m2, body: "", deleted: true, editedAt: at };
  store.appendConnection?.write([
    {
      app: "default",
      conversationId: "c",
      messages: [],
      changes: [edit, react, del],
      states: [m1State, m2State],
      scrub: [2],
    },
  ]);
  store.appendConnection?.write([
    {
      app: "default",
      conversationId: "c",
      messages: [message(7, "ann")],
      changes: [],
      states: [],
      scrub: [],
    },
  ]);
  for (const limit of [1, 3, 4, 7, 1000]) {
    const native = await store.readLogTail("default", "c", limit);
    expect(native).toEqual(await viaClient.readLogTail("default", "c", limit));
    expect(native.map((e) => (e.type === "message" ? e.message.seq : e.change.seq))).toEqual(
      [1, 2, 3, 4, 5, 6, 7].slice(-limit),
    );
  }
  // A page after a seq (the lanes' and the log API's read), cut by rows and by bytes.
  for (const after of [0, 1, 3, 6, 7])
    for (const limit of [1, 2, 50])
      for (const maxBytes of [undefined, 1, 5, 1_000_000]) {
        const query = { after, limit, maxBytes };
        const page = await store.readLog("default", "c", query);
        expect(page, JSON.stringify(query)).toEqual(await viaClient.readLog("default", "c", query));
        const seqs = page.map((e) => (e.type === "message" ? e.message.seq : e.change.seq));
        expect(seqs.every((seq) => seq > after)).toBe(true);
        expect(seqs.length).toBeLessThanOrEqual(limit);
        // A byte cut still returns at least one entry.
        if (after < 7) expect(seqs.length).toBeGreaterThan(0);
      }
  expect((await store.readLog("default", "c", { after: 0, limit: 50, maxBytes: 5 })).length).toBeLessThan(7);
  const tail = await store.readLogTail("default", "c", 7);
  expect(tail[3]).toMatchObject({
    type: "change",
    change: { seq: 4, kind: "edit" },
    message: { seq: 2, deleted: true },
  });
  expect(tail[3]).not.toHaveProperty("change.body");
  expect(await store.readLogTail("default", "nope", 10)).toEqual([]);

  await store.writeProfile("default", "ann", { name: "Ann", picture: null }, at);
  await store.writeProfile("default", "bob", { name: null, picture: "https://p.example/b.png" }, at);
  await store.writeProfile("other-app", "zed", { name: "Zed" }, at);
  const ids = ["ann", "bob", "zed", "ann", "nobody"];
  const native = await store.readProfiles("default", ids);
  expect(native).toEqual(await viaClient.readProfiles("default", ids));
  expect(native).toEqual(
    new Map([
      ["ann", { name: "Ann", picture: null }],
      ["bob", { name: null, picture: "https://p.example/b.png" }],
    ]),
  );
  expect(await store.readProfiles("default", [])).toEqual(new Map());
});

it("reads a lane's cursor, the conversation's events and the recorded recipients as the @libsql/client path does", async () => {
  const at = new Date(1_700_000_000_000).toISOString();
  const viaClient = new LibsqlStore(store.client);
  const endpoint = {
    app: "default",
    id: "wh_1",
    url: "https://example.com/hook",
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    events: [],
    status: "active" as const,
    lastError: null,
    failingSince: null,
    createdAt: at,
  };
  await store.webhooks.createEndpoint(endpoint);
  // With an endpoint, a conversation's creation and its members are events.
  await store.createConversation(
    "default",
    { id: "c", title: null, lastSeq: 0, createdAt: at, lastActivityAt: at },
    ["ann", "bob"],
  );
  store.appendConnection?.write([
    {
      app: "default",
      conversationId: "c",
      messages: [message(1, "ann"), message(2, "bob"), message(3, "ann")],
      changes: [],
      states: [],
      scrub: [],
      recipients: new Map([
        [1, JSON.stringify({ online: ["bob"], offline: [] })],
        [3, JSON.stringify({ online: [], offline: ["bob"] })],
      ]),
    },
  ]);
  const events = await store.webhooks.readEvents("default", "c", 0, 50);
  expect(events.length).toBeGreaterThan(0);
  expect(events).toEqual(await viaClient.webhooks.readEvents("default", "c", 0, 50));
  expect(events[0]).toMatchObject({ type: "conversation.created", afterSeq: 0 });
  expect(await store.webhooks.readEvents("default", "c", events[0]?.id ?? 0, 1)).toEqual(
    await viaClient.webhooks.readEvents("default", "c", events[0]?.id ?? 0, 1),
  );
  expect(await store.webhooks.readEvents("default", "nope", 0, 50)).toEqual([]);

  const recipients = await store.webhooks.readRecipients("default", "c", [1, 2, 3, 4]);
  expect(recipients).toEqual(await viaClient.webhooks.readRecipients("default", "c", [1, 2, 3, 4]));
  expect(recipients).toEqual(
    new Map([
      [1, { online: ["bob"], offline: [] }],
      [3, { online: [], offline: ["bob"] }],
    ]),
  );
  expect(await store.webhooks.readRecipients("default", "c", [])).toEqual(new Map());

  expect(await store.webhooks.readCursor("default", "wh_1", "other")).toEqual({
    lastSeq: 0,
    lastEvent: 0,
    failingSince: null,
  });
  await viaClient.webhooks.advanceCursor("default", "wh_1", "c", { lastSeq: 2, lastEvent: 1 });
  await store.webhooks.laneFailed("default", "wh_1", "c", "HTTP 500", at, at);
  const cursor = await store.webhooks.readCursor("default", "wh_1", "c");
  expect(cursor).toEqual(await viaClient.webhooks.readCursor("default", "wh_1", "c"));
  expect(cursor).toEqual({ lastSeq: 2, lastEvent: 1, failingSince: at });
});
