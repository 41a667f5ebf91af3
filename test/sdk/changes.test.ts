/**
 * The conversation log in the SDK: changes (edit, delete, react, unreact) are entries with a seq
 * of their own, delivered once and in order with messages on every transport, folded into each
 * message's latest state (seen by another client, and after a resume); gap fill reads `/log`;
 * your own changes go through the outbox (offline, then once), show at once and are rolled
 * back with a reason when the relay refuses them.
 */
import { describe, expect, it } from "vitest";
import {
  type LogEntry,
  MemoryOutboxStorage,
  type Message,
  Reason,
  State,
  type TransportPreference,
  UpdateCause,
} from "../../client/index.ts";
import { entrySeq, Sequencer } from "../../client/sequencer.ts";
import type { Api } from "../helpers/clients.ts";
import { eventually, send, uid, useServer } from "../helpers/world.ts";
import { type Recorder, record, sleep, useClients, useTcpProxy } from "./harness.ts";

const w = useServer({ env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" } });
const clients = useClients(w);
const tcp = useTcpProxy(w);

const msgs = (conv: string) => `/v1/conversations/${conv}/messages`;
const edit = (api: Api, conv: string, seq: number, body: string) =>
  api.request("PATCH", `${msgs(conv)}/${seq}`, { body });
const react = (api: Api, conv: string, seq: number, key: string) =>
  api.put(`${msgs(conv)}/${seq}/reactions/${encodeURIComponent(key)}`);

/** The relay's log of `conv`, as `seq:kind` (`message` for a message). */
async function relayLog(conv: string): Promise<string[]> {
  const res = await w.admin.get(`/v1/conversations/${conv}/log?after=0&limit=500`);
  expect(res.status, res.text).toBe(200);
  return res.json.entries.map((e: LogEntry) =>
    e.type === "message" ? `${e.message.seq}:message` : `${e.change.seq}:${e.change.kind}`,
  );
}

/** The relay's latest state of every message of `conv`. */
async function relayMessages(conv: string): Promise<Message[]> {
  const res = await w.admin.get(`/v1/conversations/${conv}/log?after=0&limit=500`);
  const latest = new Map<number, Message>();
  for (const e of res.json.entries as LogEntry[]) latest.set(e.message.seq, e.message);
  return [...latest.values()].sort((a, b) => a.seq - b.seq);
}

/** No body of a deleted message in anything the recorder was given after the deletion. */
function neverShowsDeleted(r: Recorder, seq: number, text: string): void {
  const after = r.updates.findIndex((u) => u.message.seq === seq && u.message.deleted);
  expect(after, "a tombstone was emitted").toBeGreaterThanOrEqual(0);
  for (const u of r.updates.slice(after)) if (u.message.seq === seq) expect(u.message.body).toBe("");
  expect(JSON.stringify(r.conversation.messages)).not.toContain(text);
}

async function pair(prefix: string) {
  const [ann, bob] = [uid(`${prefix}a`), uid(`${prefix}b`)];
  const conv = await w.conversation([ann, bob]);
  return { ann, bob, conv, a: await w.as(ann), b: await w.as(bob) };
}

describe("the log: changes are entries", () => {
  it("a change then a message: delivered in order, no gap fill loop (the bug of v1.0 SDKs)", async () => {
    const { bob, conv, a } = await pair("g");
    const m1 = await send(a, conv, "k1", "one");
    const r = record(clients.make(bob), conv, 0);
    await r.conversation.ready();
    expect(await react(a, conv, m1.seq, "👍")).toMatchObject({ status: 200 });
    await send(a, conv, "k2", "two");
    await r.until(() => r.conversation.lastSeq === 3, 5000, "seq 3");
    await sleep(300);
    expect(r.entries).toEqual(["1:message", "2:react", "3:message"]);
    expect(r.states.map((s) => s.reason)).not.toContain(Reason.GapFillFailed);
    expect(r.conversation.state).toBe(State.Live);
    expect(r.states.filter((s) => s.newState === State.Syncing)).toHaveLength(1);
    // A resume past the change: the replay carries it, once.
    const again = record(clients.make(bob), conv, 1);
    await again.until(() => again.conversation.lastSeq === 3, 5000, "resumed");
    expect(again.entries).toEqual(["2:react", "3:message"]);
    expect(again.states.map((s) => s.reason)).not.toContain(Reason.GapFillFailed);
  });

  it("gap fill reads /log: changes in the gap are delivered before what follows", async () => {
    const { ann, conv, a } = await pair("f");
    const m1 = await send(a, conv, "k1", "one");
    await edit(a, conv, m1.seq, "one!");
    await react(a, conv, m1.seq, "🎉");
    await send(a, conv, "k2", "two");
    const log = (await a.get(`/v1/conversations/${conv}/log?after=0`)).json.entries as LogEntry[];
    const member = clients.make(ann).api;
    const delivered: string[] = [];
    const fetched: number[] = [];
    const seq = new Sequencer({
      lastSeq: 0,
      fetchAfter: (after, limit) => {
        fetched.push(after);
        return member.log(conv, { after, limit });
      },
      deliver: (e) => delivered.push(`${entrySeq(e)}:${e.type === "change" ? e.change.kind : "message"}`),
      onSynced: () => undefined,
      onFillFailed: (e) => {
        throw e;
      },
    });
    seq.receive(log[0] as LogEntry);
    seq.receive(log[3] as LogEntry); // 2 and 3 are changes: filled from /log first
    await eventually(async () => delivered.length === 4);
    expect(delivered).toEqual(["1:message", "2:edit", "3:react", "4:message"]);
    expect(fetched).toEqual([1]);
  });
});

describe("folding: another client's changes", () => {
  for (const transport of ["websocket", "sse", "longpoll"] as TransportPreference[]) {
    it(`${transport}: edits, reactions and a deletion are seen live, folded, and once after a resume`, async () => {
      const { ann, bob, conv, a, b } = await pair(transport.slice(0, 2));
      const m1 = await send(a, conv, "k1", "secret plan");
      const m2 = await send(a, conv, "k2", "two");
      const live = record(clients.make(bob, { transport }), conv, 0);
      await live.conversation.ready();
      await edit(a, conv, m1.seq, "secret plan v2");
      await react(b, conv, m2.seq, "❤️");
      await react(a, conv, m2.seq, "❤️");
      await live.until(() => live.conversation.lastSeq === 5, 8000, "three changes");
      expect(live.entries).toEqual(["1:message", "2:message", "3:edit", "4:react", "5:react"]);
      expect(live.changes.map((c) => c.change.kind)).toEqual(["edit", "react", "react"]);
      expect(live.changes[0]?.message).toMatchObject({ seq: 1, body: "secret plan v2" });
      expect(typeof live.changes[0]?.message.editedAt).toBe("string");
      expect(live.conversation.message(m2.seq)?.reactions).toEqual({ "❤️": { count: 2, users: [bob, ann] } });
      // Every change is followed by an `updated` a UI can render.
      expect(live.updates.map((u) => `${u.message.seq}:${u.cause}`)).toEqual([
        `1:${UpdateCause.Change}`,
        `2:${UpdateCause.Change}`,
        `2:${UpdateCause.Change}`,
      ]);
      const lastSeen = live.conversation.lastSeq as number;
      live.conversation.close();

      // Bob is away: Ann edits again, deletes the first, Bob unreacts elsewhere, a new message.
      await edit(a, conv, m1.seq, "secret plan v3");
      await a.del(`${msgs(conv)}/${m1.seq}`);
      await b.del(`${msgs(conv)}/${m2.seq}/reactions/${encodeURIComponent("❤️")}`);
      await send(a, conv, "k3", "three");
      const back = record(clients.make(bob, { transport }), conv, lastSeen);
      await back.until(() => back.conversation.lastSeq === 9, 8000, "resumed to 9");
      expect(back.entries).toEqual(["6:edit", "7:delete", "8:unreact", "9:message"]);
      // Replayed changes carry the latest state: the edit of a deleted message shows no text.
      expect(JSON.stringify(back.changes)).not.toContain("secret plan");
      expect(back.changes[1]?.message).toMatchObject({ seq: 1, deleted: true, body: "" });
      expect(back.changes[2]?.message.reactions).toEqual({ "❤️": { count: 1, users: [ann] } });
      // A client from the start gets the messages in their latest state.
      const fresh = record(clients.make(bob, { transport }), conv, 0);
      await fresh.until(() => fresh.conversation.lastSeq === 9, 8000, "replayed");
      expect(fresh.messages[0]).toMatchObject({ seq: 1, deleted: true, body: "" });
      expect(JSON.stringify(fresh.messages)).not.toContain("secret plan");
      expect(fresh.conversation.messages).toEqual(await relayMessages(conv));
      expect(back.conversation.message(m2.seq)).toEqual((await relayMessages(conv))[1]);
    });
  }
});

describe("your own changes", () => {
  for (const sendOver of ["http", "socket"] as const) {
    it(`over ${sendOver}: edit, react, unreact, reply and delete show at once, then as the relay has them`, async () => {
      const { ann, bob, conv } = await pair(`o${sendOver[0]}`);
      const A = record(clients.make(ann, { sendOver }), conv, 0);
      const B = record(clients.make(bob), conv, 0);
      await Promise.all([A.conversation.ready(), B.conversation.ready()]);
      const m = await A.conversation.send("helo");
      await A.until(() => A.conversation.message(m.seq), 5000, "own message known");

      const editing = A.conversation.edit(m.seq, { body: "hello", meta: { fixed: true } });
      // Optimistic: shown before the relay answered.
      expect(A.updates.at(-1)).toMatchObject({
        cause: UpdateCause.Optimistic,
        message: { seq: m.seq, body: "hello", meta: { fixed: true } },
      });
      expect(A.conversation.pendingChanges.map((e) => e.change?.kind)).toEqual(["edit"]);
      expect(A.conversation.pending).toEqual([]); // sends only
      expect(await editing).toMatchObject({ body: "hello", meta: { fixed: true } });

      const reacting = A.conversation.react(m.seq, "👍");
      expect(A.conversation.message(m.seq)?.reactions).toEqual({ "👍": { count: 1, users: [ann] } });
      await reacting;
      const reply = await B.conversation.reply(m.seq, "answer");
      expect(reply.replyTo).toBe(m.seq);
      await B.conversation.react(m.seq, "👍");
      await A.until(() => A.conversation.message(m.seq)?.reactions["👍"]?.count === 2, 5000, "two reactions");
      await A.conversation.unreact(m.seq, "👍");
      expect(A.conversation.message(m.seq)?.reactions).toEqual({ "👍": { count: 1, users: [bob] } });

      const deleting = A.conversation.delete(m.seq);
      expect(A.conversation.message(m.seq)).toMatchObject({ deleted: true, body: "", reactions: {} });
      await deleting;
      await A.until(() => A.conversation.lastSeq === 7, 5000, "everything");
      await B.until(() => B.conversation.lastSeq === 7, 5000, "everything at bob's");
      const log = ["1:message", "2:edit", "3:react", "4:message", "5:react", "6:unreact", "7:delete"];
      expect(await relayLog(conv)).toEqual(log);
      expect(A.entries).toEqual(log);
      // Both end with exactly the relay's state; the pending list is empty.
      const relay = await relayMessages(conv);
      await A.until(
        () => JSON.stringify(A.conversation.messages) === JSON.stringify(relay),
        5000,
        "A = relay",
      );
      expect(B.conversation.messages).toEqual(relay);
      expect(A.conversation.pendingChanges).toEqual([]);
      neverShowsDeleted(A, m.seq, "hello");
      neverShowsDeleted(B, m.seq, "hello");
      // A UI following `updated` never went back to an older body.
      const bodies = A.updates.filter((u) => u.message.seq === m.seq).map((u) => u.message.body);
      expect(bodies.indexOf("helo")).toBe(-1);
    });
  }
});

describe("history() and what is known", () => {
  for (const transport of ["websocket", "longpoll"] as const) {
    it(`${transport}: a page read again emits nothing; a state that did change is emitted once (refresh)`, async () => {
      const { ann, bob, conv, a, b } = await pair(`h${transport[0]}`);
      const m1 = await send(a, conv, "k1", "one");
      await send(a, conv, "k2", "two");
      await edit(a, conv, m1.seq, "one!");
      await react(b, conv, 2, "👍");
      const r = record(clients.make(ann, { transport }), conv, 0);
      await r.conversation.ready();
      await r.conversation.history({ limit: 50 }); // learns them as the relay has them
      const before = r.updates.length;
      for (let i = 0; i < 2; i++) await r.conversation.history({ limit: 50 });
      await r.conversation.history({ before: 3, limit: 1 });
      expect(r.updates.slice(before), "nothing changed").toEqual([]);
      // A reply moves its parent's replyCount with no entry in the log: only history() sees it.
      const reply = await clients.make(bob).conversation(conv).reply(m1.seq, "re");
      await r.until(() => r.conversation.lastSeq === reply.seq, 5000, "the reply");
      for (let i = 0; i < 2; i++) await r.conversation.history({ limit: 50 });
      expect(r.updates.slice(before).map((u) => [u.message.seq, u.cause, u.message.replyCount])).toEqual([
        [m1.seq, UpdateCause.Refresh, 1],
      ]);
    });
  }
});

describe("changes through the outbox", () => {
  it("made offline: shown at once, sent once when the network is back", async () => {
    const { ann, bob, conv, a } = await pair("off");
    const m = await send(a, conv, "k1", "hi");
    tcp.proxy.pass();
    const B = record(clients.make(bob, { url: tcp.proxy.url }), conv, 0);
    await B.conversation.ready();
    tcp.proxy.stall();
    const reacting = B.conversation.react(m.seq, "👀");
    const unreacting = B.conversation.unreact(m.seq, "👀");
    const again = B.conversation.react(m.seq, "✅");
    expect(B.conversation.message(m.seq)?.reactions).toEqual({ "✅": { count: 1, users: [bob] } });
    expect(B.updates.map((u) => u.cause)).toEqual(Array(3).fill(UpdateCause.Optimistic));
    await sleep(500);
    expect(await relayLog(conv)).toEqual(["1:message"]);
    tcp.proxy.pass();
    await Promise.all([reacting, unreacting, again]);
    await B.until(() => B.conversation.lastSeq === 4, 8000, "the three changes back");
    expect(await relayLog(conv)).toEqual(["1:message", "2:react", "3:unreact", "4:react"]);
    expect(B.conversation.message(m.seq)?.reactions).toEqual({ "✅": { count: 1, users: [bob] } });
    // At no point did Bob's view lose his reaction once made.
    const seen = B.updates.map((u) => Object.keys(u.message.reactions).join(","));
    expect(seen.at(-1)).toBe("✅");
    expect(seen.slice(seen.indexOf("✅"))).toEqual(seen.slice(seen.indexOf("✅")).map(() => "✅"));
    void ann;
  });

  for (const sendOver of ["http", "socket"] as const) {
    it(`over ${sendOver}: an answer lost after the relay applied the change is retried, and appends nothing`, async () => {
      const { bob, conv, a } = await pair(`lost${sendOver[0]}`);
      const m = await send(a, conv, "k1", "hi");
      tcp.proxy.pass();
      const B = record(clients.make(bob, { url: tcp.proxy.url, sendOver }), conv, 0);
      await B.conversation.ready();
      const lost = tcp.proxy.dropNext({
        match: sendOver === "http" ? /PUT \/v1\/conversations\/[^ ]+\/reactions\//i : /"type":"react"/,
        phase: "response",
      });
      const done = B.conversation.react(m.seq, "👍");
      await lost;
      expect(await done).toMatchObject({ reactions: { "👍": { count: 1, users: [bob] } } });
      await B.until(() => B.conversation.lastSeq === 2, 8000, "the reaction");
      expect(await relayLog(conv)).toEqual(["1:message", "2:react"]);
      expect(B.changeFailures).toEqual([]);
    });
  }

  it("a change left in the outbox by a closed page is sent by the next one, once", async () => {
    const { bob, conv, a } = await pair("rl");
    const m = await send(a, conv, "k1", "hello");
    const storage = new MemoryOutboxStorage();
    tcp.proxy.pass();
    const first = clients.make(bob, { url: tcp.proxy.url, outbox: storage });
    const c1 = first.conversation(conv, { after: 0 });
    await c1.ready();
    tcp.proxy.stall();
    c1.react(m.seq, "🙏").catch(() => undefined);
    await sleep(300);
    expect(storage.size).toBe(1);
    first.close();
    tcp.proxy.pass();
    const page2 = record(clients.make(bob, { url: tcp.proxy.url, outbox: storage }), conv, 0);
    await page2.until(() => page2.conversation.lastSeq === 2, 8000, "the restored change");
    expect(await relayLog(conv)).toEqual(["1:message", "2:react"]);
    expect(page2.conversation.message(m.seq)?.reactions).toEqual({ "🙏": { count: 1, users: [bob] } });
    await page2.until(() => storage.size === 0, 5000, "outbox emptied");
  });
});

describe("refusals roll back with a reason", () => {
  for (const sendOver of ["http", "socket"] as const) {
    it(`over ${sendOver}: 403 (not the sender), 409 (reaction cap, deleted), 404 and 413`, async () => {
      const { ann, bob, conv, a } = await pair(`no${sendOver[0]}`);
      const m = await send(a, conv, "k1", "Ann's words");
      const B = record(clients.make(bob, { sendOver }), conv, 0);
      await B.conversation.ready();

      // 403: Bob edits Ann's message. Shown at once, then undone.
      const hijack = B.conversation.edit(m.seq, { body: "Bob's words" });
      expect(B.conversation.message(m.seq)?.body).toBe("Bob's words");
      await expect(hijack).rejects.toMatchObject({ code: "forbidden" });
      expect(B.conversation.message(m.seq)?.body).toBe("Ann's words");
      expect(B.updates.map((u) => `${u.cause}:${u.message.body}`)).toEqual([
        `${UpdateCause.Optimistic}:Bob's words`,
        `${UpdateCause.Rollback}:Ann's words`,
      ]);
      expect(B.changeFailures[0]).toMatchObject({
        change: { kind: "edit", seq: m.seq },
        error: { code: "forbidden" },
      });
      expect(B.errors.at(-1)).toMatchObject({ code: "forbidden" });

      // 409: over the cap of 10 keys per user on one message.
      for (let i = 1; i <= 10; i++) await B.conversation.react(m.seq, `k${i}`);
      const over = B.conversation.react(m.seq, "k11");
      expect(B.conversation.message(m.seq)?.reactions.k11).toEqual({ count: 1, users: [bob] });
      await expect(over).rejects.toMatchObject({ code: "conflict" });
      expect(B.conversation.message(m.seq)?.reactions.k11).toBeUndefined();
      expect(B.updates.at(-1)).toMatchObject({ cause: UpdateCause.Rollback });
      expect(B.changeFailures.at(-1)).toMatchObject({ change: { key: "k11" }, error: { code: "conflict" } });

      // 404: no such message.
      await expect(B.conversation.react(99, "👍")).rejects.toMatchObject({ code: "not_found" });
      expect(B.changeFailures.at(-1)).toMatchObject({ change: { seq: 99 }, message: undefined });

      // 413: Ann's edit over the body limit; her own client rolls it back.
      const A = record(clients.make(ann, { sendOver }), conv, 0);
      await A.conversation.ready();
      await expect(A.conversation.edit(m.seq, { body: "x".repeat(17 * 1024) })).rejects.toMatchObject({
        code: "too_large",
      });
      expect(A.conversation.message(m.seq)?.body).toBe("Ann's words");

      // 409: a deleted message takes no reaction.
      await A.conversation.delete(m.seq);
      await B.until(() => B.conversation.message(m.seq)?.deleted, 5000, "deletion seen");
      await expect(B.conversation.react(m.seq, "👍")).rejects.toMatchObject({ code: "conflict" });
      expect(B.conversation.message(m.seq)).toMatchObject({ deleted: true, body: "", reactions: {} });
      expect(B.conversation.pendingChanges).toEqual([]);
      // The relay's log has exactly the changes it accepted.
      expect((await relayLog(conv)).filter((e) => e.endsWith(":react"))).toHaveLength(10);
    });
  }
});
