/**
 * The store's index of listening inboxes (store/inbox-listener-table.ts), on a real libSQL file:
 * what the edge's conversation creation reads to tell only the members someone is watching.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LibsqlStore } from "../../store/libsql-store.ts";
import { openStore } from "../../store/open.ts";

let dir: string;
let store: LibsqlStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-listeners-"));
  store = await openStore({ url: `file:${join(dir, "p.db")}`, sync: "normal", busyTimeoutMs: 100 });
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the index of listening inboxes", () => {
  it("answers which of the users listen, per app; marks are idempotent and taken back", async () => {
    const index = store.inboxListeners;
    await index.mark("a", "ann", true);
    await index.mark("a", "ann", true);
    await index.mark("a", "bob", true);
    await index.mark("b", "cat", true);
    expect(await index.among("a", ["ann", "bob", "cat", "dan"])).toEqual(new Set(["ann", "bob"]));
    expect(await index.among("b", ["ann", "cat"])).toEqual(new Set(["cat"]));
    expect(await index.among("a", [])).toEqual(new Set());

    await index.mark("a", "ann", false);
    await index.mark("a", "ann", false);
    await index.mark("a", "nobody", false);
    expect(await index.among("a", ["ann", "bob"])).toEqual(new Set(["bob"]));
  });

  it("reads a large member list in several queries and finds every mark in it", async () => {
    const index = store.inboxListeners;
    const users = Array.from({ length: 1_300 }, (_, i) => `u${i}`);
    const marked = users.filter((_, i) => i % 7 === 0 || i === 1_299);
    for (const user of marked) await index.mark("a", user, true);
    expect(await index.among("a", [...users, ...users.slice(0, 10)])).toEqual(new Set(marked));
  });
});
