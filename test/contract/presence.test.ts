/**
 * Presence as deltas (CONTRACT.md v1.1 "Frames", issue 17), over real sockets against a real
 * relay: a room of 200 members storming in at once costs each socket one full list and deltas
 * carrying each id about once (O(N) bytes, not N lists of N); every socket ends with the right
 * set; a mass leave reaches every socket as the same frames; a socket that reconnects gets the
 * full list again; SSE gets the same frames. Counts of frames and bytes, never times.
 */
import { describe, expect, it } from "vitest";
import { type Frame, presenceViews, SseClient, type WsClient } from "../helpers/clients.ts";
import { uid, useServer } from "../helpers/world.ts";

const N = 200;
const GRACE = 300;
const w = useServer({ env: { PARLEY_PRESENCE_GRACE_MS: String(GRACE) } });

const presenceFrames = (s: WsClient, from = 0) => s.frames.slice(from).filter((f) => f.type === "presence");
/** Ids a presence frame carries (a full list's, or a delta's joined and left). */
const idsIn = (f: Frame) =>
  Array.isArray(f.online) ? f.online.length : (f.joined as string[]).length + (f.left as string[]).length;
const bytesOf = (f: Frame) => Buffer.byteLength(JSON.stringify(f));
const same = (a: readonly string[] | undefined, b: readonly string[]) =>
  a !== undefined && a.length === b.length && a.every((u, i) => u === b[i]);

describe("presence deltas", () => {
  it(`a storm of ${N} members joining at once: one full list and O(N) bytes per socket; a mass leave, a reconnect and SSE`, async () => {
    const users = Array.from({ length: N }, (_, i) => uid(`st${i}`));
    const everyone = [...users].sort();
    const conv = await w.conversation(users);
    await Promise.all(users.map((u) => w.token(u))); // minted first: the sockets open together
    const sockets = await Promise.all(users.map((u) => w.socket(u, conv)));
    for (const s of sockets) await s.until(() => same(s.online(), everyone), 60_000, "everyone online");

    // Each socket: exactly one full list, right after `synced`; then deltas only.
    const fullList = bytesOf({ type: "presence", online: everyone });
    let worstIds = 0;
    let worstBytes = 0;
    let worstFrames = 0;
    for (const s of sockets) {
      const synced = s.frames.findIndex((f) => f.type === "synced");
      const full = s.frames.flatMap((f, i) => (f.type === "presence" && Array.isArray(f.online) ? [i] : []));
      expect(full).toEqual([synced + 1]);
      const frames = presenceFrames(s);
      const ids = frames.reduce((n, f) => n + idsIn(f), 0);
      const bytes = frames.reduce((n, f) => n + bytesOf(f), 0);
      // Every id arrives about once (in the list or one delta): a whole list per change would
      // carry about N²/2 ids (20,000 here) to the average socket.
      expect(ids).toBeLessThanOrEqual(2 * N);
      expect(bytes).toBeLessThanOrEqual(2 * fullList + 64 * frames.length);
      worstIds = Math.max(worstIds, ids);
      worstBytes = Math.max(worstBytes, bytes);
      worstFrames = Math.max(worstFrames, frames.length);
    }
    console.log(
      `presence storm, ${N} members: worst socket got ${worstFrames} presence frames, ${worstIds} ids, ` +
        `${worstBytes} bytes (one full list: ${fullList} bytes)`,
    );

    // A mass leave: 20 close at once. After the grace, every remaining socket gets the same
    // frames (encoded once), naming exactly those 20 as left.
    const marks = sockets.map((s) => s.frames.length);
    const leaving = sockets.slice(0, 20);
    const staying = sockets.slice(20);
    const remaining = users.slice(20).sort();
    await Promise.all(leaving.map((s) => s.close()));
    for (const s of staying) await s.until(() => same(s.online(), remaining), 10_000, "the 20 gone");
    // Only the frames that name someone leaving: a socket whose greeting already held its own
    // user may still get the delta announcing that user's join (it changes nothing for it)
    // after the marks, while the others got it before.
    const after = staying.map((s, i) =>
      presenceFrames(s, marks[i + 20])
        .filter((f) => (f.left as string[]).length > 0)
        .map((f) => JSON.stringify(f)),
    );
    for (const frames of after) expect(frames).toEqual(after[0]);
    const told = (after[0] ?? []).map((text) => JSON.parse(text) as Frame);
    expect(told.flatMap((f) => f.joined as string[]).every((u) => remaining.includes(u))).toBe(true);
    expect(told.flatMap((f) => f.left as string[]).sort()).toEqual(users.slice(0, 20).sort());

    // One of them reconnects: its new socket gets the full list again, the others a delta.
    const back = users[0] as string;
    const before = staying.map((s) => s.frames.length);
    const again = await w.synced(back, conv);
    const withBack = [...remaining, back].sort();
    await again.until(() => same(again.online(), withBack), 10_000, "full list on reconnect");
    const first = presenceFrames(again)[0] as Frame;
    expect(first.online).toEqual(withBack);
    for (const [i, s] of staying.entries()) {
      await s.until(() => same(s.online(), withBack), 10_000, "the one back");
      const news = presenceFrames(s, before[i]);
      expect(news.every((f) => !Array.isArray(f.online))).toBe(true);
      expect(news.reduce((n, f) => n + idsIn(f), 0)).toBe(1);
    }

    // SSE: the same frames as a socket (the full list after synced, then deltas).
    const watcher = users[1] as string;
    const sse = new SseClient(
      `${w.server.url}/v1/conversations/${conv}/events?token=${await w.token(watcher)}`,
    );
    try {
      await sse.waitFor((e) => e.data.type === "presence");
      const types = sse.events.map((e) => e.data.type);
      expect(types.indexOf("presence")).toBe(types.indexOf("synced") + 1);
      const withWatcher = [...withBack, watcher].sort();
      expect(sse.events.find((e) => e.data.type === "presence")?.data.online).toEqual(withWatcher);
      const sseOnline = () => presenceViews(sse.events.map((e) => e.data)).at(-1);
      await again.close();
      const without = withWatcher.filter((u) => u !== back);
      await sse.waitFor(() => same(sseOnline(), without), 10_000, "the SSE stream told of the leave");
      expect(
        sse.events.filter((e) => e.data.type === "presence" && Array.isArray(e.data.online)),
      ).toHaveLength(1);
    } finally {
      await sse.close();
    }
    await Promise.all(staying.map((s) => s.close()));
  }, 120_000);
});
