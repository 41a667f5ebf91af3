/**
 * Changes are as durable as messages: a deleted text is gone from the database file itself,
 * and every acknowledged change survives a SIGKILL exactly once, in a gap-free log.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Api } from "../helpers/clients.ts";
import { range, send, sleep, uid, useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_SEND_RATE: "10000", PARLEY_SEND_BURST: "10000" } });

/** Every file of the database (the main file and its write-ahead log), as bytes. */
async function databaseBytes(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const suffix of ["", "-wal"]) {
    parts.push(await readFile(path.join(w.server.dbDir, `parley.db${suffix}`)).catch(() => Buffer.alloc(0)));
  }
  return Buffer.concat(parts);
}

describe("changes are durable", () => {
  it("a deleted message's text, and the text of its edits, are gone from the database file", async () => {
    const user = uid("del");
    const conv = await w.conversation([user]);
    const a = await w.as(user);
    const original = `ORIGINAL-${uid("t")}`;
    const edited = `EDITED-${uid("t")}`;
    const kept = `KEPT-${uid("t")}`;
    const m = await send(a, conv, "k1", original.repeat(20));
    await send(a, conv, "k2", kept);
    expect(
      (await a.request("PATCH", `/v1/conversations/${conv}/messages/${m.seq}`, { body: edited })).status,
    ).toBe(200);
    expect((await databaseBytes()).includes(edited)).toBe(true); // it is there to begin with
    expect((await a.del(`/v1/conversations/${conv}/messages/${m.seq}`)).status).toBe(200);
    const bytes = await databaseBytes();
    expect(bytes.includes(original), "the original text is still in the file").toBe(false);
    expect(bytes.includes(edited), "the edited text is still in the file").toBe(false);
    expect(bytes.includes(kept), "an unrelated message is still stored").toBe(true);
  });

  it("a SIGKILL during a stream of sends and changes: every acknowledged entry is there once, the log gap-free", async () => {
    const users = [uid("ka"), uid("kb")];
    const conv = await w.conversation(users);
    const clients = await Promise.all(users.map((u) => w.as(u)));
    const base = await Promise.all(
      range(1, 5).map((i) => send(clients[0] as Api, conv, `base${i}`, `base ${i}`)),
    );
    type Acked = { kind: string; target?: number; key?: string; body?: string; seq?: number };
    const acked: Acked[] = [];
    let stop = false;
    const worker = async (client: Api, n: number) => {
      for (let i = 0; i < 400 && !stop; i++) {
        const target = base[i % base.length]?.seq as number;
        try {
          if (i % 3 === 0) {
            const res = await client.post(`/v1/conversations/${conv}/messages`, {
              clientMessageId: `w${n}-${i}`,
              body: `w${n} ${i}`,
            });
            if (res.status === 201)
              acked.push({ kind: "message", seq: res.json.message.seq, body: `w${n} ${i}` });
          } else if (i % 3 === 1) {
            const key = `k${n}-${i % 7}`;
            const res = await client.put(`/v1/conversations/${conv}/messages/${target}/reactions/${key}`);
            if (res.status === 200) acked.push({ kind: "react", target, key });
          } else if (n === 0) {
            const body = `edit ${i}`;
            const res = await client.request("PATCH", `/v1/conversations/${conv}/messages/${target}`, {
              body,
            });
            if (res.status === 200) acked.push({ kind: "edit", target, body });
          }
        } catch {
          // the relay died under this request: not acknowledged
        }
      }
    };
    const running = clients.map((c, n) => worker(c, n));
    await sleep(400);
    await w.server.kill();
    stop = true;
    await Promise.all(running);
    await w.server.restart();
    const log = await (await w.as(users[0] as string)).get(`/v1/conversations/${conv}/log?after=0&limit=500`);
    const entries = log.json.entries as Array<{
      type: string;
      message: { seq: number; body: string; reactions: Record<string, { users: string[] }> };
      change?: { seq: number; kind: string; target: number; key?: string; body?: string };
    }>;
    const seqs = entries.map((e) => e.change?.seq ?? e.message.seq);
    expect(seqs).toEqual(range(1, seqs.length));
    expect(log.json.hasMore).toBe(false);
    expect(acked.length).toBeGreaterThan(0);
    for (const a of acked) {
      if (a.kind === "message") {
        expect(
          entries.filter((e) => e.type === "message" && e.message.seq === a.seq && e.message.body === a.body),
        ).toHaveLength(1);
      } else if (a.kind === "react") {
        const reacts = entries.filter(
          (e) => e.change?.kind === "react" && e.change.target === a.target && e.change.key === a.key,
        );
        expect(reacts.length, `react ${a.key} on ${a.target}`).toBe(1);
      } else {
        expect(
          entries.some(
            (e) => e.change?.kind === "edit" && e.change.target === a.target && e.change.body === a.body,
          ),
        ).toBe(true);
      }
    }
  }, 60_000);
});
