/**
 * Creating a conversation on an actor runtime (party/host/actor-directory.ts) over a real libSQL
 * file: only the members whose inbox is marked as listening are told, and when the marks cannot
 * be read every member is told (a wake too many, never a thread missed). The actors are a
 * recorder of the calls the directory makes; the store is real.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ActorDirectory, type Actors } from "../../party/host/actor-directory.ts";
import type { LibsqlStore } from "../../store/libsql-store.ts";
import { openStore } from "../../store/open.ts";

let dir: string;
let store: LibsqlStore;
let told: Array<{ userId: string; conversationId: string; type: string }>;
let errors: string[];

const actors = {
  async deliverToInbox(_app: string, userId: string, conversationId: string, frameText: string) {
    told.push({ userId, conversationId, type: (JSON.parse(frameText) as { type: string }).type });
    return true;
  },
  async wakeWebhooks() {},
} as unknown as Actors;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-actor-dir-"));
  store = await openStore({ url: `file:${join(dir, "p.db")}`, sync: "normal", busyTimeoutMs: 100 });
  told = [];
  errors = [];
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const directory = () =>
  new ActorDirectory(
    actors,
    () => store,
    (_error, context) => errors.push(context),
  );

describe("creating a conversation on actors", () => {
  it("tells only the members whose inbox listens", async () => {
    await store.inboxListeners.mark("default", "bob", true);
    await store.inboxListeners.mark("other-app", "cat", true);
    const view = await directory().createConversation("default", { members: ["ann", "bob", "cat"] });
    expect(view.members.map((m) => m.userId)).toEqual(["ann", "bob", "cat"]);
    expect(told).toEqual([{ userId: "bob", conversationId: view.id, type: "thread" }]);
    expect(errors).toEqual([]);
  });

  it("tells every member when the marks cannot be read", async () => {
    await store.client.execute("DROP TABLE inbox_listeners");
    const view = await directory().createConversation("default", { members: ["ann", "bob"] });
    expect(told.map((t) => t.userId).sort()).toEqual(["ann", "bob"]);
    expect(told.every((t) => t.conversationId === view.id)).toBe(true);
    expect(errors).toEqual(["reading the listening inboxes failed"]);
  });
});
