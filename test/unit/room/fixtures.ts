/**
 * Fixtures for the room's parts over a real libSQL database in memory (`file::memory:`, migrated
 * like any other): a conversation, its log window, and the environment a part needs.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultLimits, type Limits } from "../../../party/core/limits.ts";
import type { OutboundFrame } from "../../../party/core/outbound-frame.ts";
import type { PipelineEnvironment } from "../../../party/core/room/commit-pipeline.ts";
import { RoomLog } from "../../../party/core/room/room-log.ts";
import type { Store } from "../../../party/core/store.ts";
import type { Message } from "../../../party/core/types.ts";
import type { LibsqlStore } from "../../../store/libsql-store.ts";
import { openStore } from "../../../store/open.ts";

export const inMemoryStore = (): Promise<LibsqlStore> => openStore({ url: "file::memory:", sync: "normal" });

/** A store on a database file in a new temporary folder (for a lock held by a second connection). */
export async function fileStore(): Promise<{
  store: LibsqlStore;
  path: string;
  dispose: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "parley-part-"));
  const path = join(dir, "p.db");
  const store = await openStore({ url: `file:${path}`, sync: "normal", busyTimeoutMs: 50 });
  return {
    store,
    path,
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Creates conversation `id` with these members and returns its (empty) log window. */
export async function freshLog(
  store: Store,
  id: string,
  members: string[],
  bufferSize = 100,
): Promise<RoomLog> {
  const now = new Date().toISOString();
  await store.createConversation(
    "default",
    { id, title: null, lastSeq: 0, createdAt: now, lastActivityAt: now },
    members,
  );
  const loaded = await store.loadConversation("default", id);
  if (!loaded) throw new Error("conversation not created");
  return new RoomLog(loaded.conversation, bufferSize, []);
}

let ids = 0;
export function environment(store: Store, limits: Partial<Limits> = {}) {
  const errors: unknown[] = [];
  const env: PipelineEnvironment = {
    store,
    limits: { ...defaultLimits, ...limits },
    now: Date.now,
    defer: setImmediate,
    newMessageId: () => `m_${++ids}`,
    onError: (error) => errors.push(error),
  };
  return { env, errors };
}

/** A message of conversation `conv` at `seq`. */
export const message = (conv: string, seq: number, sender = "a"): Message => ({
  id: `m_${conv}_${seq}`,
  conversationId: conv,
  seq,
  senderId: sender,
  clientMessageId: `k${seq}`,
  body: `body ${seq}`,
  createdAt: "2026-12-01T00:00:00.000Z",
  reactions: {},
  replyCount: 0,
});

/** A batch of new messages only. */
export const messagesBatch = (messages: Message[]) => ({ messages, changes: [], states: [], scrub: [] });

/** The real store with one method replaced (fault injection over a real database). */
export function overriding(base: Store, overrides: Partial<Store>): Store {
  return new Proxy(base, {
    get(target, prop) {
      if (prop in overrides) return overrides[prop as keyof Store];
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A connection that records frames (an in-process client of the room). */
export class RecordingConnection {
  static #next = 0;
  readonly id = `rec-${++RecordingConnection.#next}`;
  frames: Array<Record<string, unknown>> = [];
  closed = false;
  closeCode: number | undefined;
  bufferedAmount = 0;
  send(frame: OutboundFrame) {
    if (!this.closed) this.frames.push(JSON.parse(frame.text) as Record<string, unknown>);
  }
  close(code: number) {
    this.closed = true;
    this.closeCode = code;
  }
  types() {
    return this.frames.map((f) => f.type);
  }
  seqs() {
    return this.frames.filter((f) => f.type === "message").map((f) => (f.message as { seq: number }).seq);
  }
}
