/** SIGKILL mid-load: every acknowledged message survives exactly once; retries with the same key are safe. */
import { describe, expect, it } from "vitest";
import type { Api, WsClient } from "../helpers/clients.ts";
import { history, range, sleep, useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_SEND_RATE: "10000", PARLEY_SEND_BURST: "10000" } });

interface Outcome {
  key: string;
  seq: number;
  body: string;
}

describe("SIGKILL mid-load", () => {
  it("acked HTTP and socket sends are all present exactly once after restart, seqs gap-free", async () => {
    const users = ["kill-a", "kill-b", "kill-c", "kill-d"];
    const conv = await w.conversation([...users, "kill-reader"]);
    const apis = await Promise.all(users.map((u) => w.as(u)));
    const perSender = 60;
    const acked = new Map<string, Outcome>(); // `${user}/${key}` -> outcome
    let killed = false;
    let failures = 0;

    /** One sender: sequential sends, each retried with the same key until it is acknowledged. */
    const sender = async (ui: number) => {
      const a = apis[ui];
      if (!a) throw new Error("no api");
      for (let n = 0; n < perSender; n++) {
        const key = `s${ui}-${n}`;
        const body = `sender ${ui} message ${n}`;
        const deadline = Date.now() + 20_000;
        for (let attempt = 0; ; attempt++) {
          if (Date.now() > deadline || attempt > 400) throw new Error(`${key}: never acknowledged`);
          let res: Awaited<ReturnType<typeof a.post>> | undefined;
          try {
            res = await a.post(
              `/v1/conversations/${conv}/messages`,
              { clientMessageId: key, body },
              { timeoutMs: 3000 },
            );
          } catch {
            failures++;
          }
          if (res && (res.status === 201 || res.status === 200)) {
            expect(res.json.message.clientMessageId).toBe(key);
            expect(res.json.message.body).toBe(body);
            const prev = acked.get(`${users[ui]}/${key}`);
            if (prev) expect(res.json.message.seq).toBe(prev.seq);
            acked.set(`${users[ui]}/${key}`, { key, seq: res.json.message.seq, body });
            // A 200 is only allowed for a key that was already stored (sent before the crash).
            break;
          }
          if (res && res.status !== 503) {
            throw new Error(`${key}: unexpected ${res.status} ${res.text.slice(0, 200)}`);
          }
          await sleep(25);
        }
      }
    };

    const running = Promise.all(range(0, users.length - 1).map((ui) => sender(ui)));
    // Kill once a fair part of the load is acknowledged, while senders are mid-stream.
    const deadline = Date.now() + 15_000;
    while (acked.size < 60 && Date.now() < deadline) await sleep(5);
    expect(acked.size).toBeGreaterThanOrEqual(60);
    const ackedBeforeKill = new Map(acked);
    await w.server.kill();
    killed = true;
    await sleep(200);
    await w.server.restart();
    await running;
    expect(killed).toBe(true);
    expect(acked.size).toBe(users.length * perSender);

    const all = await history(apis[0] as Api, conv);
    expect(all.map((m) => m.seq)).toEqual(range(1, all.length));
    // Every key exactly once, and nothing that nobody sent.
    const keys = all.map((m) => `${m.senderId}/${m.clientMessageId}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(users.length * perSender);
    const bySeq = new Map(all.map((m) => [m.seq as number, m]));
    for (const [k, o] of acked) {
      const m = bySeq.get(o.seq);
      expect(`${m?.senderId}/${m?.clientMessageId}`, `acked ${k} at seq ${o.seq}`).toBe(k);
      expect(m?.body).toBe(o.body);
    }
    // What was acknowledged before the kill kept its seq.
    for (const [k, o] of ackedBeforeKill) expect(acked.get(k)?.seq).toBe(o.seq);
    // The sends saw the crash (otherwise this test did not test anything).
    expect(failures).toBeGreaterThan(0);
  });

  it("socket sends: acked before the kill survive; unacked ones resent on a new socket are stored once", async () => {
    const conv = await w.conversation(["ks-a", "ks-b"]);
    let sock: WsClient = await w.synced("ks-a", conv);
    const total = 80;
    for (let i = 0; i < total; i++) sock.send({ type: "send", clientMessageId: `k${i}`, body: `b${i}` });
    // Kill as soon as some (not all) acks are in.
    await sock.until(() => sock.ofType("ack").length >= 5 || undefined, 10_000, "first acks");
    await w.server.kill();
    const firstAcks = new Map(
      sock.ofType("ack").map((f) => [f.clientMessageId as string, f.message.seq as number]),
    );
    await sock.closed;
    await w.server.restart();

    sock = await w.synced("ks-a", conv);
    for (let i = 0; i < total; i++) sock.send({ type: "send", clientMessageId: `k${i}`, body: `b${i}` });
    await sock.until(() => (sock.ofType("ack").length >= total ? true : undefined), 10_000, `${total} acks`);
    const acks = new Map(
      sock.ofType("ack").map((f) => [f.clientMessageId as string, f.message.seq as number]),
    );
    for (const [k, seq] of firstAcks) expect(acks.get(k), k).toBe(seq);
    const all = await history(await w.as("ks-b"), conv);
    expect(all.map((m) => m.seq)).toEqual(range(1, total));
    expect(new Set(all.map((m) => m.clientMessageId)).size).toBe(total);
    for (const m of all) expect(acks.get(m.clientMessageId)).toBe(m.seq);
  });
});
