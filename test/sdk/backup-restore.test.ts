/**
 * Backups of a live relay and what a restore does to clients. `npm run db:backup` copies the
 * libSQL file while sends flow; a relay started on the copy has every message acknowledged
 * before the backup began, with seqs 1..n and a sound file. A client that saw seqs past the
 * backup then resumes from a log that went backwards: the SDK must say so (`reset`) and follow
 * the restored log, whether the relay's log is shorter than what the client saw, or has already
 * grown past it again with new messages under the same seqs.
 */
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createClient } from "@libsql/client";
import { afterAll, describe, expect, it } from "vitest";
import type { TransportPreference } from "../../client/index.ts";
import { ParleyServer } from "../../server/index.ts";
import { repoRoot, startServer } from "../helpers/server.ts";
import { uid, useServer } from "../helpers/world.ts";
import { record, useClients, useTcpProxy } from "./harness.ts";

const run = promisify(execFile);
const w = useServer({ env: { PARLEY_SEND_RATE: "100000", PARLEY_SEND_BURST: "100000" } });
const clients = useClients(w);
const tcp = useTcpProxy(w);
const admin = () => new ParleyServer({ baseUrl: w.server.url, serverKey: w.server.serverKey, retries: 0 });
const dbFile = () => path.join(w.server.dbDir, "parley.db");

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** `npm run db:backup -- <file>` of the running relay's database; the path of the copy. */
async function backup(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "parley-backup-"));
  scratch.push(dir);
  const file = path.join(dir, "backup.db");
  const { stdout } = await run(process.execPath, ["--import", "tsx", "bin/backup.ts", file], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", PARLEY_DB_URL: `file:${dbFile()}` },
    timeout: 30_000,
  });
  expect(stdout).toMatch(/integrity ok/);
  return file;
}

/** SIGKILL the relay, put the backup in place of its database, start it again (same port, secrets). */
async function restore(file: string): Promise<void> {
  await w.server.kill();
  for (const suffix of ["-wal", "-shm"]) await rm(`${dbFile()}${suffix}`, { force: true });
  await copyFile(file, dbFile());
  await w.server.restart();
}

describe("db:backup while sends flow", () => {
  it("to a folder that does not exist: refused, naming the folder (it said SQLITE_CANTOPEN)", async () => {
    const missing = path.join(os.tmpdir(), `parley-no-such-folder-${uid("d")}`);
    const refused = run(process.execPath, ["--import", "tsx", "bin/backup.ts", path.join(missing, "b.db")], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", PARLEY_DB_URL: `file:${dbFile()}` },
      timeout: 30_000,
    });
    await expect(refused).rejects.toMatchObject({
      stderr: expect.stringContaining(`there is no folder ${missing}; create it first`),
    });
  });

  it("holds every message acknowledged before it began, with seqs 1..n, in a sound file", async () => {
    const api = admin();
    const senders = [uid("s"), uid("s"), uid("s"), uid("s")];
    const id = uid("c");
    await api.createConversation({ id, members: senders });
    const acked = new Map<number, string>(); // seq → clientMessageId
    let stop = false;
    const loops = senders.map(async (senderId) => {
      for (let n = 0; n < 5000 && !stop; n++) {
        const { message } = await api.sendMessage(id, { senderId, body: `${senderId} ${n}` });
        acked.set(message.seq, message.clientMessageId);
      }
    });
    const deadline = Date.now() + 10_000;
    while (acked.size < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const before = new Map(acked);
    const file = await backup();
    const during = acked.size - before.size;
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(loops);
    expect(before.size).toBeGreaterThanOrEqual(100);
    // Sends went on while the backup ran (it did not stop the relay's writes).
    expect(during, "acknowledged while the backup ran").toBeGreaterThan(0);

    const copy = createClient({ url: `file:${file}` });
    const verdict = await copy.execute("PRAGMA integrity_check");
    copy.close();
    expect(verdict.rows.map((r) => String(r[0]))).toEqual(["ok"]);

    // A new relay on the copy.
    const dir = await mkdtemp(path.join(os.tmpdir(), "parley-restored-"));
    scratch.push(dir);
    await copyFile(file, path.join(dir, "parley.db"));
    const restored = await startServer({ dbDir: dir });
    try {
      const r = new ParleyServer({ baseUrl: restored.url, serverKey: restored.serverKey });
      const stored = new Map<number, string>();
      for (let after = 0, page = 0; page < 100; page++) {
        const { entries, hasMore } = await r.log(id, { after, limit: 500 });
        for (const e of entries)
          if (e.type === "message") stored.set(e.message.seq, e.message.clientMessageId);
        after = entries.at(-1)?.message.seq ?? after;
        if (!hasMore || entries.length === 0) break;
      }
      const seqs = [...stored.keys()];
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      for (const [seq, key] of before) expect(stored.get(seq), `acknowledged seq ${seq}`).toBe(key);
      // What the copy has beyond `before` was acknowledged too (same keys, nothing half-written).
      for (const [seq, key] of stored) expect(acked.get(seq)).toBe(key);
      expect((await r.getConversation(id)).lastSeq).toBe(stored.size);
    } finally {
      await restored.dispose();
    }
  }, 60_000);
});

describe("a client that saw more than the restored backup", () => {
  /**
   * A reader on `transport` sees old-1..old-5; the relay is backed up after 3, then cut off from
   * the reader and restarted on that backup. Resolves with the reader still away.
   */
  async function sawFiveThenRestoredToThree(transport: TransportPreference) {
    const api = admin();
    const [reader, writer] = [uid("rr"), uid("rw")];
    const id = uid("c");
    await api.createConversation({ id, members: [reader, writer] });
    tcp.proxy.pass();
    const r = record(clients.make(reader, { transport, url: tcp.proxy.url }), id);
    const resets: Array<{ lastSeq: number; previousLastSeq: number }> = [];
    r.conversation.on("reset", (e) => resets.push(e));
    await r.conversation.ready();
    for (let n = 1; n <= 3; n++) await api.sendMessage(id, { senderId: writer, body: `old-${n}` });
    const file = await backup();
    for (let n = 4; n <= 5; n++) await api.sendMessage(id, { senderId: writer, body: `old-${n}` });
    await r.until(() => r.messages.length === 5, 5000, "the old log");

    tcp.proxy.blockRequests(/./);
    tcp.proxy.blockWebSockets(true);
    tcp.proxy.cutAll();
    await restore(file);
    return { api, id, writer, r, resets };
  }

  for (const transport of ["websocket", "sse", "longpoll"] as TransportPreference[]) {
    it(`${transport}: the relay's log is shorter: reset, then the new messages`, async () => {
      const { api, id, writer, r, resets } = await sawFiveThenRestoredToThree(transport);
      tcp.proxy.pass();
      await r.until(() => resets.length > 0, 10_000, "a reset");
      expect(resets).toEqual([{ lastSeq: 3, previousLastSeq: 5 }]);
      await api.sendMessage(id, { senderId: writer, body: "new-4" });
      await r.until(() => r.bodies().includes("new-4"), 10_000, "a message of the restored log");
      expect(r.messages.map((m) => `${m.seq}:${m.body}`).slice(-1)).toEqual(["4:new-4"]);
      expect(r.conversation.lastSeq).toBe(4);
    }, 40_000);

    it(`${transport}: the relay's log grew past it again: reset, and no new message is taken for an old one`, async () => {
      const { api, id, writer, r, resets } = await sawFiveThenRestoredToThree(transport);
      // While the client is away, the restored log gets seqs 4..6 again, with new messages.
      for (let n = 4; n <= 6; n++) await api.sendMessage(id, { senderId: writer, body: `new-${n}` });
      tcp.proxy.pass();
      await r.until(() => r.bodies().includes("new-6"), 10_000, "the restored log's messages");
      expect(resets).toEqual([{ lastSeq: 3, previousLastSeq: 5 }]);
      expect(r.messages.map((m) => `${m.seq}:${m.body}`).slice(5)).toEqual(["4:new-4", "5:new-5", "6:new-6"]);
      expect(r.conversation.lastSeq).toBe(6);
    }, 40_000);
  }
});
