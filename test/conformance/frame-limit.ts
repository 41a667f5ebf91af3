/**
 * The contract's frame limit (64 KiB, `PARLEY_MAX_FRAME_BYTES`) on every socket: a frame over it
 * closes the socket with 1009 and is never parsed, as Node's `ws` does with `maxPayload`. Counted
 * in bytes as they were on the wire: text under 64 Ki UTF-16 units but over 64 KiB of UTF-8 is
 * over. A frame under the limit is answered as usual and the socket stays open.
 *
 * Found from outside: on the edge (workerd, both runtimes) a frame over the limit was parsed
 * and answered with an `error` frame; only Node closed.
 */
import { describe, expect, it } from "vitest";
import type { CloseInfo, WsClient } from "../helpers/clients.ts";
import type { StartOptions } from "../helpers/server.ts";
import { history, uid, useServer } from "../helpers/world.ts";

const LIMIT = 64 * 1024;

/** The socket's close, or a failure naming `what` if it stays open. */
function closeOf(socket: WsClient, what: string, ms = 5000): Promise<CloseInfo> {
  return Promise.race([
    socket.closed,
    new Promise<CloseInfo>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms).unref(),
    ),
  ]);
}

/** A `send` frame whose JSON text is `bytes` long in UTF-8, padded with `unit` (1 to 3 bytes). */
function sendFrame(key: string, bytes: number, unit = "p"): string {
  const empty = JSON.stringify({ type: "send", clientMessageId: key, body: "x", meta: { pad: "" } });
  const unitBytes = Buffer.byteLength(unit);
  const pad = unit.repeat(Math.floor((bytes - Buffer.byteLength(empty)) / unitBytes));
  const text = JSON.stringify({ type: "send", clientMessageId: key, body: "x", meta: { pad } });
  return text + " ".repeat(bytes - Buffer.byteLength(text));
}

export function frameLimitSuite(name: string, start: StartOptions): void {
  const w = useServer(start);

  describe(`socket frame limit: ${name}`, () => {
    it("a conversation frame over 64 KiB closes the socket with 1009, unread; one under it is answered", async () => {
      const conv = await w.conversation(["fl-a", "fl-b"]);
      const other = await w.synced("fl-b", conv);
      const s = await w.synced("fl-a", conv);

      // Just under: parsed and refused (meta over its own cap) with an error frame; the socket stays.
      const under = sendFrame("under", LIMIT - 16);
      expect(Buffer.byteLength(under)).toBe(LIMIT - 16);
      s.sendRaw(under);
      await s.waitFor((f) => f.type === "error" && f.clientMessageId === "under", 5000, "error for 'under'");

      s.sendRaw(sendFrame("over", LIMIT + 1));
      expect((await closeOf(s, "a frame 1 byte over the limit")).code).toBe(1009);
      // The room goes on for the others, and nothing of the frame was stored.
      const a = await w.as("fl-a");
      const sent = await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "ok", body: "ok" });
      expect(sent.status, sent.text).toBe(201);
      await other.waitFor((f) => f.type === "message" && f.message.clientMessageId === "ok");
      expect((await history(a, conv)).map((m) => m.clientMessageId)).toEqual(["ok"]);
    }, 30_000);

    it("the limit counts UTF-8 bytes: fewer than 64 Ki characters of 3 bytes each close with 1009", async () => {
      const conv = await w.conversation(["fl-c"]);
      const s = await w.synced("fl-c", conv);
      const text = sendFrame("wide", LIMIT + 300, "€");
      expect(text.length).toBeLessThan(LIMIT);
      s.sendRaw(text);
      expect((await closeOf(s, "65 KiB of UTF-8 in 22 Ki characters")).code).toBe(1009);
    }, 30_000);

    it("a binary frame over 64 KiB closes with 1009", async () => {
      const conv = await w.conversation(["fl-d"]);
      const s = await w.synced("fl-d", conv);
      s.sendRaw(Buffer.alloc(LIMIT + 1, 0x20));
      expect((await closeOf(s, "a binary frame over the limit")).code).toBe(1009);
    }, 30_000);

    it("an inbox frame over 64 KiB closes the inbox socket with 1009", async () => {
      const owner = uid("fl-i");
      const inbox = await w.inbox(owner);
      await inbox.opened;
      inbox.send({ type: "ping" });
      await inbox.waitFor((f) => f.type === "pong");
      inbox.sendRaw(sendFrame("over", LIMIT + 1));
      expect((await closeOf(inbox, "an inbox frame over the limit")).code).toBe(1009);
    }, 30_000);
  });
}
