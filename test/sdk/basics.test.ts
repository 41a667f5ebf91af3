/** The SDK against the real relay: states, exactly-once receive, outbox, signals, stop codes. */
import { describe, expect, it } from "vitest";
import { CloseCode, MemoryOutboxStorage, type OutboxEntry, Reason, State } from "../../client/index.ts";
import { mintToken } from "../helpers/clients.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { send, uid, useServer } from "../helpers/world.ts";
import { expectExactlyOnce, Recorder, record, sleep, useClients } from "./harness.ts";

const w = useServer({
  env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000", PARLEY_TYPING_TTL_MS: "800" },
});
const clients = useClients(w);

describe("conversation basics", () => {
  it("connects through connecting → syncing → live, replays with after=0, one synced", async () => {
    const conv = await w.conversation(["ba", "bb"]);
    const a = await w.as("ba");
    for (let i = 1; i <= 3; i++) await send(a, conv, `pre${i}`);
    const r = record(clients.make("bb"), conv, 0);
    await r.conversation.ready();
    expect(r.states.map((s) => [s.oldState, s.newState, s.reason])).toEqual([
      [State.Connecting, State.Syncing, Reason.TransportOpen],
      [State.Syncing, State.Live, Reason.Synced],
    ]);
    expect(r.seqs()).toEqual([1, 2, 3]);
    expect(r.synced).toEqual([3]);
    expect(r.conversation.lastSeq).toBe(3);
    expect(r.conversation.transportKind).toBe("websocket");
  });

  it("without after starts at the current end; send resolves with the stored message", async () => {
    const conv = await w.conversation(["bc", "bd"]);
    await send(await w.as("bc"), conv, "old");
    const c = record(clients.make("bc"), conv, "end");
    const d = record(clients.make("bd"), conv, "end");
    await Promise.all([c.conversation.ready(), d.conversation.ready()]);
    expect(c.messages).toEqual([]);
    const queued: string[] = [];
    c.conversation.on("queued", (entry) => queued.push(`${entry.clientMessageId}:${entry.body}`));
    const sending = c.conversation.send("hello", { meta: { k: 1 } });
    // Queued synchronously, before the relay answers: a UI shows it as pending at once.
    expect(queued).toHaveLength(1);
    expect(c.conversation.pending.map((e) => e.body)).toEqual(["hello"]);
    const m = await sending;
    expect(queued).toEqual([`${m.clientMessageId}:hello`]);
    expect(m).toMatchObject({ seq: 2, body: "hello", senderId: "bc", meta: { k: 1 } });
    await d.messagesAtLeast(1);
    await c.messagesAtLeast(1);
    expect(d.messages[0]?.clientMessageId).toBe(m.clientMessageId);
    expect(c.seqs()).toEqual([2]);
  });

  it("queued carries the entry's outbox key and scope, also for a send made before the first token", async () => {
    const conv = await w.conversation(["bu"]);
    const storage = new MemoryOutboxStorage();
    const c = clients.make("bu", { outbox: storage }).conversation(conv, { after: 0 });
    const queued: OutboxEntry[] = [];
    c.on("queued", (entry) => queued.push({ ...entry })); // as it is when the event comes
    const early = c.send("before the token"); // the user id that scopes it is not known yet
    await c.ready();
    const late = c.send("after it");
    expect(queued.map((e) => e.body)).toEqual(["before the token", "after it"]); // the second at once
    const scope = `${w.server.url}|bu`;
    for (const e of queued) {
      expect(e).toMatchObject({ scope, key: `${scope}|${conv}|${e.clientMessageId}`, conversationId: conv });
    }
    expect((await storage.list(scope, conv)).map((e) => e.key)).toContain(queued[1]?.key);
    await Promise.all([early, late]);
    expect(storage.size).toBe(0);
  });

  it("sends in call order, each stored once, everyone receives all in order", async () => {
    const conv = await w.conversation(["be", "bf"]);
    const e = record(clients.make("be"), conv);
    const f = record(clients.make("bf", { sendOver: "socket" }), conv);
    await Promise.all([e.conversation.ready(), f.conversation.ready()]);
    const sent: string[] = [];
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      sent.push(`e${i}`, `f${i}`);
      jobs.push(e.conversation.send(`e${i}`), f.conversation.send(`f${i}`));
    }
    await Promise.all(jobs);
    const stored = await expectExactlyOnce(await w.as("be"), conv, sent, [e, f]);
    const eOrder = stored.filter((m) => m.senderId === "be").map((m) => m.body);
    expect(eOrder).toEqual(sent.filter((b) => b.startsWith("e")));
  });

  it("typing is throttled, seen by others and expires; reads and presence flow", async () => {
    const conv = await w.conversation(["bg", "bh"]);
    const g = record(clients.make("bg"), conv);
    const h = record(clients.make("bh", { sendOver: "socket" }), conv);
    await Promise.all([g.conversation.ready(), h.conversation.ready()]);
    await h.until(() => h.conversation.online.includes("bg") && h.conversation.online.includes("bh"));
    g.conversation.typing();
    await h.until(() => h.conversation.typingUsers.includes("bg"), 5000, "typing seen");
    expect(g.typing).toEqual([]); // not our own
    await h.until(() => !h.conversation.typingUsers.includes("bg"), 5000, "typing expired");
    expect(h.typing).toEqual([
      { userId: "bg", typing: true },
      { userId: "bg", typing: false },
    ]);
    const m = await g.conversation.send("seen?");
    await h.messagesAtLeast(1);
    await h.conversation.markRead(m.seq);
    await g.until(() => g.conversation.readPositions.get("bh") === m.seq, 5000, "read seen");
    expect(g.reads).toContainEqual({ userId: "bh", seq: m.seq });
    await h.until(() => h.conversation.readPositions.get("bh") === m.seq, 5000, "own read seen");
    await h.conversation.markRead(0); // never backward
    await sleep(100);
    expect(h.conversation.readPositions.get("bh")).toBe(m.seq);
  });

  it("history() pages older messages over HTTP", async () => {
    const conv = await w.conversation(["bi"]);
    const a = await w.as("bi");
    for (let i = 1; i <= 5; i++) await send(a, conv, `h${i}`);
    const r = record(clients.make("bi"), conv, "end");
    await r.conversation.ready();
    const page = await r.conversation.history({ before: 4, limit: 2 });
    expect(page.messages.map((m) => m.seq)).toEqual([2, 3]);
    expect(page.hasMore).toBe(true);
  });
});

describe("stop codes and tokens", () => {
  for (const transport of ["websocket", "sse"] as const) {
    it(`4009 over ${transport}: a second instance with the same id replaces the first, which stops`, async () => {
      const conv = await w.conversation(["bj"]);
      const first = record(clients.make("bj", { instanceId: `device-${transport}`, transport }), conv);
      await first.conversation.ready();
      const second = record(clients.make("bj", { instanceId: `device-${transport}`, transport }), conv);
      await second.conversation.ready();
      await first.until(() => first.conversation.state === State.Closed, 5000, "first closed");
      expect(first.states.at(-1)).toMatchObject({ newState: State.Closed, reason: Reason.Replaced });
      await sleep(300);
      expect(second.conversation.state).toBe(State.Live);
      await expect(first.conversation.ready()).rejects.toThrow();
    });
  }

  it("long-poll holds no connection a newer instance could replace: both instances stay live (README)", async () => {
    const conv = await w.conversation(["bj", "bk"]);
    const opts = { instanceId: "device-lp", transport: "longpoll", longPollWaitSeconds: 1 } as const;
    const first = record(clients.make("bj", opts), conv);
    await first.conversation.ready();
    const second = record(clients.make("bj", opts), conv);
    await second.conversation.ready();
    await send(await w.as("bk"), conv, uid("lp"), "to both");
    await first.messagesAtLeast(1);
    await second.messagesAtLeast(1);
    await sleep(1500); // past a whole long-poll round of each
    expect([first.conversation.state, second.conversation.state]).toEqual([State.Live, State.Live]);
    expect(first.states.map((s) => s.reason)).not.toContain(Reason.Replaced);
  });

  it("4003: a non-member stops with an error; removal while live stops too", async () => {
    const conv = await w.conversation(["bk", "bl"]);
    const outsider = record(clients.make("bz"), conv);
    await expect(outsider.conversation.ready()).rejects.toMatchObject({ code: "forbidden" });
    expect(outsider.states.at(-1)?.reason).toBe(Reason.Forbidden);
    expect(outsider.errors[0]).toMatchObject({ code: "forbidden", closeCode: CloseCode.forbidden });

    const l = record(clients.make("bl"), conv);
    await l.conversation.ready();
    const res = await w.admin.del(`/v1/conversations/${conv}/members/bl`);
    expect(res.status).toBe(204);
    await l.until(() => l.conversation.state === State.Closed, 5000, "removed");
    expect(l.states.at(-1)?.reason).toBe(Reason.Forbidden);
  });

  it("4004: no such conversation stops with not_found: the error first, then state closed", async () => {
    const r = record(clients.make("bm"), uid("missing"));
    const order: string[] = [];
    r.conversation.on("error", (e) => order.push(`error ${e.code}`));
    r.conversation.on("state", (s) => order.push(`state ${s.newState}`));
    await expect(r.conversation.ready()).rejects.toMatchObject({ code: "not_found" });
    expect(r.states.at(-1)?.reason).toBe(Reason.NotFound);
    expect(order.slice(-2)).toEqual(["error not_found", `state ${State.Closed}`]);
  });

  it("a token is replaced shortly before it expires: the request then carries the next one, with no 401 first", async () => {
    const conv = await w.conversation(["bt"]);
    const minted: string[] = [];
    const sent: string[] = [];
    const client = clients.make("bt", {
      token: async () => {
        minted.push(await mintToken(w.server.secret, "bt", { expiresIn: 4 }));
        return minted.at(-1) as string;
      },
      fetch: (input, init) => {
        sent.push(new Headers(init?.headers).get("authorization") ?? "");
        return fetch(input, init);
      },
    });
    await client.api.conversation(conv);
    expect(sent).toEqual([`Bearer ${minted[0]}`]);
    // Past nine tenths of its 4 s (the relay would take it for a while yet).
    await new Promise((resolve) => setTimeout(resolve, 3_800));
    await client.api.conversation(conv);
    expect(minted).toHaveLength(2);
    expect(sent).toEqual([`Bearer ${minted[0]}`, `Bearer ${minted[1]}`]);
  });

  it("4001: an expired token is refreshed by calling the token function again", async () => {
    const conv = await w.conversation(["bn"]);
    let calls = 0;
    const client = clients.make("bn", {
      token: async () => {
        calls++;
        return mintToken(w.server.secret, "bn", { expiresIn: calls === 1 ? -120 : 3600 });
      },
    });
    const r = new Recorder(client.conversation(conv, { after: 0 }));
    await r.conversation.ready();
    expect(calls).toBe(2);
    expect(r.states.map((s) => s.reason)).toContain(Reason.TokenExpired);
    const m = await r.conversation.send("after refresh");
    expect(m.seq).toBe(1);
  });

  for (const transport of ["websocket", "sse", "longpoll", "auto"] as const) {
    it(`${transport}: a token refused every time costs four calls of the token function (README), then unauthorized`, async () => {
      const conv = await w.conversation(["br"]);
      let calls = 0;
      const client = clients.make("br", {
        transport,
        token: () => {
          calls++;
          return mintToken(w.server.secret, "br", { expiresIn: -120 });
        },
      });
      const r = record(client, conv);
      await expect(r.conversation.ready()).rejects.toMatchObject({ code: "unauthorized" });
      await sleep(300); // nothing more asks
      // The first token and three fresh ones, each refused once: no request renews on its own.
      expect(calls).toBe(4);
    });
  }

  it("a static token that is refused stops with unauthorized", async () => {
    const conv = await w.conversation(["bo"]);
    const expired = await mintToken(w.server.secret, "bo", { expiresIn: -120 });
    const r = record(clients.make("bo", { token: expired }), conv);
    await expect(r.conversation.ready()).rejects.toMatchObject({ code: "unauthorized" });
  });

  it("a token that is not a JWT, over SSE and long-poll: unauthorized with the HTTP status and a message about tokens", async () => {
    const conv = await w.conversation(["bq"]);
    for (const transport of ["sse", "longpoll"] as const) {
      const r = record(clients.make("bq", { token: "not-a-jwt", transport }), conv);
      const error = await r.conversation.ready().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, transport).toMatchObject({ code: "unauthorized", status: 401, closeCode: 4001 });
      expect((error as Error).message, transport).toMatch(/JWT/);
      r.conversation.close();
    }
  });
});

describe("outbox", () => {
  it("a reloaded page resends what the last one left, once", async () => {
    const conv = await w.conversation(["bp"]);
    const storage = new MemoryOutboxStorage();
    // The first "page" never gets through: the network black-holes everything.
    const proxy = await startTcpProxy(() => w.server.port);
    proxy.stall();
    const dead = clients.make("bp", { url: proxy.url, outbox: storage });
    const c1 = dead.conversation(conv);
    const lost = c1.send("survives a reload");
    lost.catch(() => undefined);
    await sleep(300);
    expect(storage.size).toBe(1);
    dead.close();
    await expect(lost).rejects.toMatchObject({ code: "closed" });
    expect(storage.size).toBe(1);

    proxy.pass();
    const page2 = record(clients.make("bp", { url: proxy.url, outbox: storage }), conv);
    const sent = await page2.until(() => page2.messages.length === 1 && page2.messages, 5000, "resent");
    expect(sent[0]?.body).toBe("survives a reload");
    await page2.until(() => storage.size === 0, 5000, "outbox emptied");
    await expectExactlyOnce(await w.as("bp"), conv, ["survives a reload"], [page2]);
    await proxy.close();
  });

  it("a refusal a retry cannot fix rejects and leaves the outbox", async () => {
    const conv = await w.conversation(["bq"]);
    const r = record(clients.make("bq"), conv);
    await r.conversation.ready();
    await expect(r.conversation.send("x".repeat(17 * 1024))).rejects.toMatchObject({ code: "too_large" });
    expect(r.conversation.pending).toEqual([]);
  });
});
