/**
 * The receive path on its own, against the relay's real history endpoint: gap fill before later
 * messages, duplicates dropped, one `synced` per catch-up; token refresh on HTTP 401; the inbox
 * without a WebSocket.
 */
import { describe, expect, it } from "vitest";
import type { LogEntry, Message } from "../../client/index.ts";
import { entrySeq, Sequencer } from "../../client/sequencer.ts";
import { mintToken } from "../helpers/clients.ts";
import { history, send, uid, useServer } from "../helpers/world.ts";
import { record, sleep, useClients } from "./harness.ts";

const w = useServer({ env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" } });
const clients = useClients(w);

describe("sequencer", () => {
  it("fills a gap from the log over HTTP before anything later, drops duplicates, one synced per catch-up", async () => {
    const conv = await w.conversation(["sq"]);
    const a = await w.as("sq");
    for (let i = 1; i <= 8; i++) await send(a, conv, `s${i}`);
    const all = await history(a, conv);
    const bySeq = (seq: number): LogEntry => ({ type: "message", message: all[seq - 1] as Message });
    const api = clients.make("sq").api;
    const delivered: number[] = [];
    const synced: number[] = [];
    const fetches: Array<[number, number]> = [];
    const seq = new Sequencer({
      lastSeq: 0,
      fetchAfter: (after, limit) => {
        fetches.push([after, limit]);
        return api.log(conv, { after, limit });
      },
      deliver: (e) => delivered.push(entrySeq(e)),
      onSynced: (s) => synced.push(s),
      onFillFailed: (e) => {
        throw e;
      },
    });
    seq.receive(bySeq(1));
    seq.receive(bySeq(5)); // gap: 2..4 come from HTTP first
    seq.receive(bySeq(6)); // arrives during the fill: held
    seq.receive(bySeq(5)); // duplicate of a held one
    expect(delivered).toEqual([1]);
    for (let i = 0; i < 100 && delivered.length < 6; i++) await sleep(20);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6]);
    expect(fetches).toEqual([[1, 3]]);
    seq.receive(bySeq(3));
    seq.receive(bySeq(6));
    expect(seq.duplicatesDropped).toBe(3);
    seq.synced(8); // the transport says it had up to 8: fill 7..8, then one synced
    for (let i = 0; i < 100 && synced.length === 0; i++) await sleep(20);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(synced).toEqual([8]);
    seq.reset();
    seq.synced(8);
    expect(synced).toEqual([8, 8]);
  });

  it("without a cursor, the first synced sets it and earlier seqs are history", async () => {
    const delivered: number[] = [];
    const seq = new Sequencer({
      lastSeq: undefined,
      fetchAfter: () => Promise.reject(new Error("no fetch expected")),
      deliver: (e) => delivered.push(entrySeq(e)),
      onSynced: () => undefined,
      onFillFailed: () => undefined,
    });
    const m = (s: number): LogEntry => ({ type: "message", message: { seq: s } as Message });
    seq.receive(m(4));
    seq.synced(3);
    expect(delivered).toEqual([4]);
    seq.receive(m(4));
    seq.receive(m(5));
    expect(delivered).toEqual([4, 5]);
  });
});

describe("tokens over HTTP", () => {
  it("a 401 on a request calls the token function again and retries once", async () => {
    const conv = await w.conversation(["tk"]);
    let calls = 0;
    const client = clients.make("tk", {
      transport: "longpoll",
      token: async () => {
        calls++;
        return mintToken(w.server.secret, "tk", { expiresIn: calls === 1 ? -120 : 3600 });
      },
    });
    const r = record(client, conv);
    await r.conversation.ready();
    await r.conversation.send("with a fresh token");
    await r.messagesAtLeast(1);
    expect(calls).toBe(2);
  });
});

describe("inbox without a WebSocket", () => {
  it("polls the thread list over HTTP", async () => {
    const conv = await w.conversation(["ip", "iq"]);
    const client = clients.make("ip", { WebSocket: undefined, inboxPollMs: 100 });
    const inbox = client.inbox();
    await inbox.ready();
    expect(inbox.polling).toBe(true);
    expect(inbox.threads.map((t) => t.id)).toContain(conv);
    await send(await w.as("iq"), conv, "poll-me");
    for (let i = 0; i < 100 && inbox.threads.find((t) => t.id === conv)?.unread !== 1; i++) await sleep(50);
    expect(inbox.threads.find((t) => t.id === conv)?.unread).toBe(1);
  });

  it("drops a conversation the user is removed from at the next poll of the whole list", async () => {
    const user = uid("ipr");
    const [kept, left] = [await w.conversation([user]), await w.conversation([user])];
    const inbox = clients.make(user, { WebSocket: undefined, inboxPollMs: 100 }).inbox();
    await inbox.ready();
    expect(inbox.threads.map((t) => t.id).sort()).toEqual([kept, left].sort());
    const states: string[] = [];
    inbox.on("state", (change) => states.push(change.newState));
    expect((await w.admin.del(`/v1/conversations/${left}/members/${user}`)).status).toBe(204);
    for (let i = 0; i < 100 && inbox.threads.some((t) => t.id === left); i++) await sleep(50);
    expect(inbox.threads.map((t) => t.id)).toEqual([kept]);
    expect(states, "the list was put right by polling, not by a reconnect").toEqual([]);
  });
});
