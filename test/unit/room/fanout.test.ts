/**
 * The fan-out on its own: a connection replays from the window and, below it, from the store;
 * gets `synced` and the greeting; only then live frames; a slow connection is closed with 4008
 * and the others still get the frame.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CloseCode } from "../../../party/core/errors.ts";
import { defaultLimits } from "../../../party/core/limits.ts";
import { frames } from "../../../party/core/outbound-frame.ts";
import { Fanout } from "../../../party/core/room/fanout.ts";
import type { Peer } from "../../../party/core/room/peer.ts";
import type { RoomLog } from "../../../party/core/room/room-log.ts";
import type { LibsqlStore } from "../../../store/libsql-store.ts";
import { freshLog, inMemoryStore, message, messagesBatch, RecordingConnection } from "./fixtures.ts";

let store: LibsqlStore;
beforeEach(async () => {
  store = await inMemoryStore();
});
afterEach(async () => {
  await store.close();
});

/** `count` messages committed to the store and applied to a window of `window` messages. */
async function logWith(count: number, window: number): Promise<RoomLog> {
  const log = await freshLog(store, "c", ["a", "b"], window);
  const messages = Array.from({ length: count }, (_, i) => message("c", i + 1));
  await store.appendEntries("default", "c", messagesBatch(messages));
  for (const m of messages) log.apply({ type: "message", message: m });
  return log;
}

function fanoutOver(log: RoomLog, limits = {}) {
  const errors: unknown[] = [];
  /** The peers forgotten, in order (each must be told once: it gives back its presence). */
  const left: Peer[] = [];
  const fanout = new Fanout(
    {
      app: "default",
      conversationId: "c",
      store,
      limits: { ...defaultLimits, pageSize: 4, ...limits },
      now: Date.now,
      onError: (e) => errors.push(e),
    },
    log,
    () => [frames.presence({ online: ["a"] })],
    (peer) => left.push(peer),
  );
  return { fanout, errors, left };
}

const identity = (userId: string) => ({ app: "default", userId });

describe("fan-out", () => {
  it("replays from the store below the window and from the window above it, then synced, then live", async () => {
    const log = await logWith(10, 3); // seqs 8-10 in the window, 1-7 only in the store
    const { fanout, errors } = fanoutOver(log);
    const conn = new RecordingConnection();
    const peer = fanout.add(conn, identity("b"), false, 0);
    fanout.broadcast(frames.message(message("c", 99))); // not live yet: skipped
    await fanout.replay(peer, 2);
    expect(conn.seqs()).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(conn.types().slice(-2)).toEqual(["synced", "presence"]);
    expect(conn.frames.at(-2)).toEqual({ type: "synced", lastSeq: 10 });
    const next = message("c", 11);
    log.apply({ type: "message", message: next });
    fanout.broadcast(frames.message(next));
    expect(conn.seqs().at(-1)).toBe(11);
    expect(errors).toEqual([]);
  });

  it("without after, nothing is replayed; after beyond lastSeq is clamped", async () => {
    const log = await logWith(5, 100);
    const { fanout } = fanoutOver(log);
    const fresh = new RecordingConnection();
    await fanout.replay(fanout.add(fresh, identity("a"), false, 0), undefined);
    expect(fresh.types()).toEqual(["synced", "presence"]);
    const ahead = new RecordingConnection();
    await fanout.replay(fanout.add(ahead, identity("a"), false, 0), 50);
    expect(ahead.frames[0]).toEqual({ type: "synced", lastSeq: 5 });
  });

  it("a live connection over the buffer cap is closed with 4008; the others still get the frame", async () => {
    const log = await logWith(1, 100);
    const { fanout, left } = fanoutOver(log, { socketBufferBytes: 1000 });
    const slow = new RecordingConnection();
    const fast = new RecordingConnection();
    const slowPeer = fanout.add(slow, identity("a"), false, 0);
    await fanout.replay(slowPeer, 0);
    await fanout.replay(fanout.add(fast, identity("b"), false, 0), 0);
    slow.bufferedAmount = 1001;
    fanout.broadcast(frames.typing("b", Date.now()), "b");
    expect(slow.closeCode).toBe(CloseCode.tooSlowOrFast);
    expect(left).toEqual([slowPeer]);
    expect(fanout.size).toBe(1);
    // The sender's own connections are skipped for `exceptUser`; others get it.
    expect(fast.types().includes("typing")).toBe(false);
    fanout.broadcast(frames.typing("a", Date.now()), "a");
    expect(fast.types().includes("typing")).toBe(true);
  });
});
