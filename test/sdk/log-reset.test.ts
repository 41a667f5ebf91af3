/**
 * The relay's log ends below what the SDK already delivered: its database was wiped or
 * restored from an older backup, so seqs the client has seen are handed out again. Each
 * transport must notice (a `reset` event) and follow the relay's log from its end, instead of
 * dropping the new messages as duplicates of old seqs.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TransportPreference } from "../../client/index.ts";
import { uid, useServer } from "../helpers/world.ts";
import { record, useClients, useTcpProxy } from "./harness.ts";

const w = useServer();
const clients = useClients(w);
// The reader goes through a proxy that refuses it while the relay is wiped and its
// conversation re-created, so it comes back to a known new log (one message).
const tcp = useTcpProxy(w);

async function post(user: string, conv: string, body: string) {
  const res = await (await w.as(user)).post(`/v1/conversations/${conv}/messages`, {
    clientMessageId: uid("k"),
    body,
  });
  expect(res.status, res.text).toBe(201);
}

/** SIGKILL the relay, delete its database (keeping the secrets), start it again on the same port. */
async function wipeDatabase(): Promise<void> {
  await w.server.kill();
  for (const suffix of ["", "-wal", "-shm"])
    await rm(join(w.server.dbDir, `parley.db${suffix}`), { force: true });
  await w.server.restart();
}

describe("a relay whose log went backwards", () => {
  for (const transport of ["websocket", "sse", "longpoll"] as TransportPreference[]) {
    it(`${transport}: reports a reset and delivers the new log's messages`, async () => {
      const [reader, writer] = [uid("rr"), uid("rw")];
      const conv = await w.conversation([reader, writer]);
      tcp.proxy.pass();
      const r = record(clients.make(reader, { transport, url: tcp.proxy.url }), conv);
      const resets: Array<{ lastSeq: number; previousLastSeq: number }> = [];
      r.conversation.on("reset", (e) => resets.push(e));
      await r.conversation.ready();
      for (const body of ["old-1", "old-2", "old-3"]) await post(writer, conv, body);
      await r.until(() => r.messages.length === 3, 5000, "the old log");

      tcp.proxy.blockRequests(/./);
      tcp.proxy.blockWebSockets(true);
      tcp.proxy.cutAll();
      await wipeDatabase();
      await w.conversation([reader, writer], { id: conv });
      await post(writer, conv, "new-1");
      tcp.proxy.pass();
      await r.until(() => resets.length > 0, 10_000, "a reset");
      expect(resets).toEqual([{ lastSeq: 1, previousLastSeq: 3 }]);
      expect(r.conversation.lastSeq).toBe(1);

      await post(writer, conv, "new-2");
      await r.until(() => r.bodies().includes("new-2"), 10_000, "a message of the new log");
      expect(r.messages.map((m) => `${m.seq}:${m.body}`)).toEqual([
        "1:old-1",
        "2:old-2",
        "3:old-3",
        "2:new-2",
      ]);
    }, 30_000);
  }
});
