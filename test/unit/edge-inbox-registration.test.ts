/**
 * The edge inbox's registration with its user's rooms (party/edge/inbox-actor.ts) and a room's
 * set of listening inboxes (party/edge/listening-inboxes.ts), with the runtime replaced by small
 * fakes: an in-memory actor storage, a store that lists threads, sockets that record frames.
 * The same code runs on local workerd in test/conformance/edge-inbox-*.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defaultLimits } from "../../party/core/limits.ts";
import type { ActorStorage } from "../../party/edge/actor-storage.ts";
import type { EdgeConfig } from "../../party/edge/config.ts";
import type { EdgeWebSocket } from "../../party/edge/edge-socket.ts";
import { HOLD_MS, InboxActor, REGISTER_CAP } from "../../party/edge/inbox-actor.ts";
import { ListeningInboxes } from "../../party/edge/listening-inboxes.ts";

class MemoryStorage implements ActorStorage {
  readonly data = new Map<string, unknown>();
  async get<T>(key: string) {
    return this.data.get(key) as T | undefined;
  }
  async list<T>(options: { prefix: string }) {
    const out = new Map<string, T>();
    for (const [k, v] of [...this.data].sort(([a], [b]) => a.localeCompare(b)))
      if (k.startsWith(options.prefix)) out.set(k, v as T);
    return out;
  }
  async put<T>(key: string, value: T) {
    this.data.set(key, value);
  }
  async delete(key: string) {
    return this.data.delete(key);
  }
}

function fakeSocket(id: string, userId = "ann"): EdgeWebSocket & { sent: string[] } {
  const sent: string[] = [];
  return {
    id,
    readyState: 1,
    state: { app: "default", userId },
    sent,
    send: (text: string) => sent.push(text),
    close: () => undefined,
  };
}

const identityRequest = (userId = "ann") =>
  new Request("https://inbox/", { headers: { "x-parley-app": "default", "x-parley-user": userId } });

interface Harness {
  inbox: InboxActor;
  storage: MemoryStorage;
  calls: string[];
  pages: number[];
  /** The store's listening marks and thread reads, in order: `mark true`, `list`, `mark false`. */
  store: string[];
}

/** An inbox of `ann`, whose store lists `threads` conversations (newest first: t0, t1, …). */
function harness(
  opts: {
    threads?: number;
    storage?: MemoryStorage;
    kept?: EdgeWebSocket[];
    refuse?: string;
    /** Each room call takes this long (fake timers). */
    delayMs?: number;
  } = {},
): Harness {
  const storage = opts.storage ?? new MemoryStorage();
  const calls: string[] = [];
  const pages: number[] = [];
  const storeCalls: string[] = [];
  const ids = Array.from({ length: opts.threads ?? 3 }, (_, i) => `t${i}`);
  const store = {
    async listThreads(_app: string, _user: string, page: { limit: number; cursor?: { id: string } }) {
      pages.push(page.limit);
      storeCalls.push("list");
      const from = page.cursor ? ids.indexOf(page.cursor.id) + 1 : 0;
      return ids.slice(from, from + page.limit).map((id) => ({ id, lastActivityAt: "2026-01-01" }));
    },
    inboxListeners: {
      async mark(app: string, userId: string, listening: boolean) {
        expect([app, userId]).toEqual(["default", "ann"]);
        storeCalls.push(`mark ${listening}`);
      },
    },
  };
  const config = { store, limits: defaultLimits } as unknown as EdgeConfig;
  const inbox = new InboxActor("default:ann", () => config, {
    storage,
    kept: () => opts.kept ?? [],
    async tellRoom(app, conversationId, method, userId) {
      expect([app, userId]).toEqual(["default", "ann"]);
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      calls.push(`${method} ${conversationId}`);
      if (conversationId === opts.refuse) throw new Error("refused");
    },
  });
  return { inbox, storage, calls, pages, store: storeCalls };
}

const frame = (id: string) => `{"type":"thread","conversation":{"id":"${id}"}}`;

describe("edge inbox registration", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    vi.spyOn(console, "error").mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("registers with the most recent conversations, at most the cap, read in pages; once", async () => {
    const { inbox, storage, calls, pages } = harness({ threads: REGISTER_CAP + 234 });
    await inbox.prepare();
    expect(calls).toHaveLength(REGISTER_CAP);
    expect(new Set(calls)).toEqual(new Set(Array.from({ length: REGISTER_CAP }, (_, i) => `listen t${i}`)));
    expect(pages.every((limit) => limit <= 200)).toBe(true);
    expect(storage.data.get("registered")).toBe(true);
    expect([...storage.data.keys()].filter((k) => k.startsWith("room:"))).toHaveLength(REGISTER_CAP);
    // A second tab: nothing to do.
    await inbox.prepare();
    inbox.connect(fakeSocket("s1"), identityRequest(), () => undefined);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(REGISTER_CAP);
  });

  it("answers whether it listens; delivers only to open sockets", async () => {
    const { inbox, storage } = harness();
    // Never opened: not listening, and nothing in the actor's storage was read or written to say so.
    expect(await inbox.deliver("t0", frame("t0"))).toBe(false);
    expect(storage.data.size).toBe(0);
    await inbox.prepare();
    // Prepared, socket on its way: listening.
    expect(await inbox.deliver("t0", frame("t0"))).toBe(true);
    const socket = fakeSocket("s1");
    inbox.connect(socket, identityRequest(), () => undefined);
    expect(await inbox.deliver("t1", frame("t1"))).toBe(true);
    expect(socket.sent).toEqual([frame("t1")]);
  });

  it("registers with a conversation it did not know before answering a delivery from it", async () => {
    const { inbox, calls, storage } = harness();
    await inbox.prepare();
    inbox.connect(fakeSocket("s1"), identityRequest(), () => undefined);
    calls.length = 0;
    expect(await inbox.deliver("new-one", frame("new-one"))).toBe(true);
    expect(calls).toEqual(["listen new-one"]);
    expect(storage.data.get("room:new-one")).toBe(true);
    // Known now: the next delivery costs no call.
    expect(await inbox.deliver("new-one", frame("new-one"))).toBe(true);
    expect(calls).toEqual(["listen new-one"]);
  });

  it("unregisters from every room once the last socket has been closed for the hold", async () => {
    const { inbox, calls, storage } = harness();
    await inbox.prepare();
    const [a, b] = [fakeSocket("a"), fakeSocket("b")];
    inbox.connect(a, identityRequest(), () => undefined);
    inbox.connect(b, identityRequest(), () => undefined);
    await inbox.deliver("late", frame("late"));
    calls.length = 0;
    inbox.forget(a);
    await vi.advanceTimersByTimeAsync(HOLD_MS * 2);
    expect(calls).toEqual([]);
    inbox.forget(b);
    // A reload within the hold: still registered, nothing to do.
    await vi.advanceTimersByTimeAsync(HOLD_MS / 2);
    expect(await inbox.deliver("t0", frame("t0"))).toBe(true);
    await vi.advanceTimersByTimeAsync(HOLD_MS + 100);
    expect(calls.sort()).toEqual(["unlisten late", "unlisten t0", "unlisten t1", "unlisten t2"]);
    expect([...storage.data.keys()]).toEqual([]);
    expect(await inbox.deliver("t0", frame("t0"))).toBe(false);
    // Open again: registers again.
    calls.length = 0;
    await inbox.prepare();
    expect(calls.sort()).toEqual(["listen t0", "listen t1", "listen t2"]);
  });

  it("marks itself listening before it reads the conversations, and takes the mark back when it unregisters", async () => {
    const { inbox, store } = harness({ threads: 450 });
    await inbox.prepare();
    // The mark comes first: a conversation created after the reads began finds it (three pages).
    expect(store).toEqual(["mark true", "list", "list", "list"]);
    const socket = fakeSocket("a");
    inbox.connect(socket, identityRequest(), () => undefined);
    await vi.advanceTimersByTimeAsync(1);
    expect(store).toHaveLength(4);
    inbox.forget(socket);
    await vi.advanceTimersByTimeAsync(HOLD_MS + 100);
    expect(store.at(-1)).toBe("mark false");
  });

  it("an inbox that answers it does not listen takes its mark back, unless it listens again by then", async () => {
    const { inbox, store } = harness();
    // A mark left behind (say, by an actor evicted while it listened) brought this delivery.
    expect(await inbox.deliver("new-one", frame("new-one"))).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(store).toEqual(["mark false"]);
    // Refused, and a socket on its way at once: the two go in turn, so the registration's mark
    // is the one that stays (with no turn, the "false" could land after it).
    store.length = 0;
    const refused = inbox.deliver("t0", frame("t0"));
    const prepared = inbox.prepare();
    expect(await refused).toBe(false);
    await prepared;
    await vi.advanceTimersByTimeAsync(1);
    expect(store.filter((call) => call.startsWith("mark")).at(-1)).toBe("mark true");
    expect(store.at(-1)).toBe("list");
  });

  it("a reconnect during the hold keeps the registration (no unlisten, no listen)", async () => {
    const { inbox, calls } = harness();
    await inbox.prepare();
    const a = fakeSocket("a");
    inbox.connect(a, identityRequest(), () => undefined);
    inbox.forget(a);
    await vi.advanceTimersByTimeAsync(HOLD_MS / 2);
    calls.length = 0;
    await inbox.prepare();
    inbox.connect(fakeSocket("b"), identityRequest(), () => undefined);
    await vi.advanceTimersByTimeAsync(HOLD_MS * 3);
    expect(calls).toEqual([]);
  });

  it("woken with its sockets kept, it trusts its stored registration; woken without, it registers again", async () => {
    const first = harness();
    await first.inbox.prepare();
    first.inbox.connect(fakeSocket("s1"), identityRequest(), () => undefined);

    const kept = harness({ storage: first.storage, kept: [fakeSocket("s1")] });
    await kept.inbox.prepare();
    expect(kept.calls).toEqual([]);
    expect(await kept.inbox.deliver("t2", frame("t2"))).toBe(true);
    expect(kept.calls).toEqual([]);

    // No socket survived (say, the actor was evicted and its sockets with it): rooms may have
    // dropped this inbox since, so the stored flag is not trusted.
    const cold = harness({ storage: first.storage });
    await cold.inbox.prepare();
    expect(cold.calls.sort()).toEqual(["listen t0", "listen t1", "listen t2"]);
  });

  it("a room that refused is asked again by the next socket", async () => {
    const { inbox, calls, storage } = harness({ refuse: "t1" });
    await inbox.prepare();
    expect(storage.data.get("registered")).toBeUndefined();
    calls.length = 0;
    inbox.connect(fakeSocket("s1"), identityRequest(), () => undefined);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.sort()).toEqual(["listen t0", "listen t1", "listen t2"]);
  });

  it("an unregistration and a new registration never overtake each other", async () => {
    const { inbox, calls } = harness({ delayMs: 50 });
    const first = inbox.prepare();
    await vi.advanceTimersByTimeAsync(100);
    await first;
    const a = fakeSocket("a");
    inbox.connect(a, identityRequest(), () => undefined);
    inbox.forget(a);
    await vi.advanceTimersByTimeAsync(HOLD_MS + 20);
    // The unregistration is under way (its calls take 50 ms); a new socket's prepare waits for
    // it, then registers.
    expect(calls.filter((c) => c.startsWith("unlisten"))).toEqual([]);
    const prepared = inbox.prepare();
    await vi.advanceTimersByTimeAsync(200);
    await prepared;
    expect(calls.filter((c) => c.startsWith("unlisten"))).toHaveLength(3);
    const last = (id: string) => calls.filter((c) => c.endsWith(` ${id}`)).at(-1);
    for (const id of ["t0", "t1", "t2"]) expect(last(id)).toBe(`listen ${id}`);
  });
});

describe("a room's listening inboxes", () => {
  it("persists the set and reads it back on a new start", async () => {
    const storage = new MemoryStorage();
    const set = new ListeningInboxes(storage);
    await set.listen("ann");
    await set.listen("bob");
    await set.unlisten("bob");
    const again = new ListeningInboxes(storage);
    expect(again.has("ann")).toBe(false);
    await again.load();
    expect(again.has("ann")).toBe(true);
    expect(again.has("bob")).toBe(false);
  });

  it("a lapsed delivery drops the inbox, unless it registered again meanwhile", async () => {
    const set = new ListeningInboxes(new MemoryStorage());
    await set.listen("ann");
    const before = set.registration("ann") as number;
    await set.listen("ann"); // crossed the answer on its way
    await set.lapsed("ann", before);
    expect(set.has("ann")).toBe(true);
    await set.lapsed("ann", set.registration("ann") as number);
    expect(set.has("ann")).toBe(false);
  });
});
