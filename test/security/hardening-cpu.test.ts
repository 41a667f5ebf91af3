/**
 * Hardening, fair CPU: what one member sends is budgeted in bytes and refused before it is
 * parsed; a huge meta is refused before any comparison; a busy room does not serialize its
 * last message once per listening inbox per commit. Each test failed before the fix.
 */
import { describe, expect, it } from "vitest";
import type { WsClient } from "../helpers/clients.ts";
import { range, sleep, uid, useServer } from "../helpers/world.ts";
import { legitSendMs } from "./hardening-kit.ts";
import { encodeFrame, Op, RawWs } from "./raw-ws.ts";

// A slow refill of the byte budget (16 KiB/s; the default is 512 KiB/s) keeps a flooder
// "exhausted" for about 4 s after the flood (one largest frame's worth of refill), so the check
// that a new socket is refused meanwhile does not race the refill on a loaded machine (at the
// default rate the window is 125 ms, shorter than a connect there).
const w = useServer({
  env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000", PARLEY_INBOUND_BYTES_PER_SECOND: "16384" },
});

describe("fair CPU", () => {
  it("one member's sockets sending invalid 64 KiB frames under the frame rate are cut (4008) by its byte budget", async () => {
    const user = uid("flooder");
    const conv = await w.conversation([user]);
    const token = await w.token(user);
    const junk = encodeFrame(Op.text, Buffer.from(`{"type":"flood","pad":"${"z".repeat(64 * 1024 - 40)}"}`));
    const sockets: RawWs[] = [];
    for (const _ of range(1, 10)) {
      const ws = await RawWs.connect(w.server.port, `/parties/conversation/${conv}?token=${token}`);
      await ws.waitFor((f) => f.type === "synced", 5_000, "synced");
      sockets.push(ws);
    }
    // 10 sockets × 25 frames/s × 64 KiB = 16 MB/s: each socket is well under the frame rate
    // (50/s), the member far over its byte budget (16 KiB/s here, 2 MiB burst).
    for (let tick = 0; tick < 120 && sockets.some((s) => !s.socket.destroyed); tick++) {
      for (const s of sockets) if (!s.socket.destroyed) s.socket.write(junk);
      await sleep(40);
    }
    const closes = await Promise.all(sockets.map((s) => s.waitClose(5_000)));
    expect(closes.map((c) => c.code)).toEqual(sockets.map(() => 4008));
    // While it is over budget, a new socket of the member is refused at once.
    const again = await RawWs.connect(w.server.port, `/parties/conversation/${conv}?token=${token}`);
    expect((await again.waitClose(5_000)).code).toBe(4008);
    // Another member is served normally meanwhile.
    expect(await legitSendMs(w)).toBeLessThan(5_000);
  });

  it("a meta of a 32,000-element array is refused (413) before it is compared with anything", async () => {
    const user = uid("meta");
    const conv = await w.conversation([user]);
    const client = await w.as(user);
    const meta = { a: Array.from({ length: 32_000 }, () => 0) };
    const res = await client.post(`/v1/conversations/${conv}/messages`, {
      clientMessageId: "big-meta",
      body: "m",
      meta,
    });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe("too_large");
    // Within the cap, meta is kept exactly.
    const ok = await client.post(`/v1/conversations/${conv}/messages`, {
      clientMessageId: "small-meta",
      body: "m",
      meta: { a: range(1, 100) },
    });
    expect(ok.status).toBe(201);
    expect(ok.json.message.meta).toEqual({ a: range(1, 100) });
  });

  it("a burst of commits sends each listening inbox a few thread frames (latest state), not one per message", async () => {
    const members = range(1, 30).map((i) => uid(`in${i}`));
    const conv = await w.conversation(members);
    const inboxes: WsClient[] = [];
    for (const m of members) {
      const inbox = await w.inbox(m);
      await inbox.opened;
      inboxes.push(inbox);
    }
    const sender = await w.as(members[0] as string);
    const sends = range(1, 60).map((i) =>
      sender.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `b${i}`, body: `burst ${i}` }),
    );
    expect((await Promise.all(sends)).every((r) => r.status === 201)).toBe(true);
    for (const inbox of inboxes) {
      const last = await inbox.waitFor((f) => f.type === "thread" && f.conversation.lastSeq === 60, 10_000);
      expect(last.conversation.lastMessage.body).toBe("burst 60");
    }
    const counts = inboxes.map((i) => i.ofType("thread").filter((f) => f.conversation.id === conv).length);
    // Before: 60 frames per inbox, each with the last message and the member list serialized anew.
    expect(Math.max(...counts)).toBeLessThan(30);
    // Unread counts are each member's own: the sender has none, the others 60.
    const lastFor = (i: number) =>
      inboxes[i]
        ?.ofType("thread")
        .filter((f) => f.conversation.id === conv)
        .at(-1);
    expect(lastFor(0)?.conversation.unread).toBe(0);
    expect(lastFor(1)?.conversation.unread).toBe(60);
  });
});
