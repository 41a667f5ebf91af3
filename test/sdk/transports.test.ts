/**
 * Transport choice and liveness: `auto` falls back when a proxy blocks WebSockets (and event
 * streams) and upgrades back later; half-open SSE and long-poll are found and resumed;
 * `online` and a visible tab cut a reconnect wait short; the live inbox.
 */
import { describe, expect, it, vi } from "vitest";
import { createParleyClient, Reason, State } from "../../client/index.ts";
import { send, uid, useServer } from "../helpers/world.ts";
import { expectExactlyOnce, record, sleep, useClients, useTcpProxy } from "./harness.ts";

const w = useServer({
  env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000", PARLEY_HEARTBEAT_MS: "1000" },
});
const clients = useClients(w);
const tcp = useTcpProxy(w);

describe("auto: fallback and upgrade", () => {
  it("falls back to SSE when a proxy blocks WebSockets, and upgrades back when it stops", async () => {
    tcp.proxy.pass();
    tcp.proxy.blockWebSockets(true);
    const conv = await w.conversation(["ta", "tw"]);
    const a = record(clients.make("ta", { url: tcp.proxy.url, upgradeAfterMs: 300 }), conv);
    const watcher = record(clients.make("tw"), conv);
    await a.conversation.ready();
    expect(a.conversation.transportKind).toBe("sse");
    expect(a.transports).toEqual(["sse"]);
    // The connection made on the fallback says so.
    expect(a.states.find((s) => s.newState === State.Syncing)?.reason).toBe(Reason.TransportFallback);
    const sent: string[] = [];
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push(`on-sse-${i}`);
      jobs.push(a.conversation.send(`on-sse-${i}`));
    }
    await Promise.all(jobs);
    // The proxy relents: the next upgrade attempt moves to WebSocket; keep talking meanwhile.
    tcp.proxy.blockWebSockets(false);
    for (let i = 0; i < 20 && a.conversation.transportKind !== "websocket"; i++) {
      sent.push(`during-upgrade-${i}`);
      jobs.push(watcher.conversation.send(`during-upgrade-${i}`));
      await sleep(100);
    }
    await a.until(
      () => a.conversation.transportKind === "websocket" && a.conversation.state === State.Live,
      5000,
      "upgraded",
    );
    expect(a.states.map((s) => s.reason)).toContain(Reason.TransportUpgrade);
    sent.push("on-ws");
    jobs.push(a.conversation.send("on-ws"));
    await Promise.all(jobs);
    await expectExactlyOnce(await w.as("tw"), conv, sent, [a, watcher]);
  });

  it("falls back to long-poll when event streams are blocked too", async () => {
    tcp.proxy.pass();
    tcp.proxy.blockWebSockets(true);
    tcp.proxy.blockRequests(/GET \/v1\/conversations\/[^/ ]+\/events/);
    const conv = await w.conversation(["tb"]);
    const b = record(clients.make("tb", { url: tcp.proxy.url, upgradeAfterMs: 60_000 }), conv);
    await b.conversation.ready();
    expect(b.conversation.transportKind).toBe("longpoll");
    expect(b.transports).toEqual(["sse", "longpoll"]);
    expect(b.states.find((s) => s.newState === State.Syncing)?.reason).toBe(Reason.TransportFallback);
    const m = await b.conversation.send("over long-poll");
    await b.messagesAtLeast(1);
    expect(b.messages[0]?.id).toBe(m.id);
    tcp.proxy.pass();
  });

  it("without a WebSocket class (plain Node), auto starts on SSE and warns once per process; websocket is a config error", async () => {
    const conv = await w.conversation(["tc"]);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const c = record(clients.make("tc", { WebSocket: undefined }), conv);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/no WebSocket class/));
    // A back end may make a client per user: the advice is given once, not per client.
    clients.make("tc2", { WebSocket: undefined });
    expect(warn.mock.calls.filter(([text]) => /no WebSocket class/.test(String(text)))).toHaveLength(1);
    warn.mockRestore();
    await c.conversation.ready();
    expect(c.conversation.transportKind).toBe("sse");
    expect(() =>
      createParleyClient({ url: w.server.url, token: "t", transport: "websocket", WebSocket: undefined }),
    ).toThrow(/WebSocket/);
  });
});

describe("liveness of the HTTP transports", () => {
  for (const transport of ["sse", "longpoll"] as const) {
    it(`${transport}: a half-open connection is found and resumed, exactly once`, async () => {
      tcp.proxy.pass();
      const conv = await w.conversation(["td", "tw2"]);
      const d = record(
        clients.make("td", { url: tcp.proxy.url, transport, requestTimeoutMs: 1000, longPollWaitSeconds: 1 }),
        conv,
      );
      const watcher = record(clients.make("tw2"), conv);
      await Promise.all([d.conversation.ready(), watcher.conversation.ready()]);
      const sent = ["before"];
      await watcher.conversation.send("before");
      await d.messagesAtLeast(1);
      tcp.proxy.stall();
      for (let i = 0; i < 3; i++) {
        sent.push(`stalled-${i}`);
        await watcher.conversation.send(`stalled-${i}`);
      }
      await d.until(() => d.conversation.state === State.Reconnecting, 6000, "noticed");
      tcp.proxy.pass();
      await expectExactlyOnce(await w.as("tw2"), conv, sent, [d, watcher]);
    });
  }
});

describe("liveness of the WebSocket", () => {
  it("a half-open socket is found at most heartbeatMs + pongTimeoutMs after its last frame (README)", async () => {
    tcp.proxy.pass();
    const heartbeatMs = 1000;
    const pongTimeoutMs = 300;
    const conv = await w.conversation(["th", "tw3"]);
    const h = record(
      clients.make("th", { url: tcp.proxy.url, transport: "websocket", heartbeatMs, pongTimeoutMs }),
      conv,
    );
    let openedAt = 0; // the socket opened (its heartbeat started) at the same moment
    h.conversation.on("state", (s) => {
      if (s.newState === State.Syncing && !openedAt) openedAt = Date.now();
    });
    let lastFrameAt = 0;
    let referenceAt = 0;
    h.conversation.on("message", () => {
      // The last frame: nothing gets through after it, in either direction.
      lastFrameAt = Date.now();
      tcp.proxy.stall();
      // The same two waits as the SDK's (the silence, then the pong's), on this process's timers:
      // how late timers fire here (a loaded CI machine ran them 100+ ms late), which the bound
      // below allows on top of its margin. A check on a tick would still be half an interval late.
      setTimeout(() => setTimeout(() => (referenceAt = Date.now()), pongTimeoutMs), heartbeatMs);
    });
    let foundAt = 0;
    h.conversation.on("state", (s) => {
      if (s.reason === Reason.HeartbeatTimeout && !foundAt) foundAt = Date.now();
    });
    await h.conversation.ready();
    // Let the frame arrive just after a half-interval mark from the start: a check that ran on
    // a tick of half the interval would only ping half an interval late.
    const half = heartbeatMs / 2;
    const at = openedAt + Math.ceil((Date.now() - openedAt + 200) / half) * half + 10;
    await sleep(at - Date.now());
    await send(await w.as("tw3"), conv, uid("hb"), "the last frame");
    await h.until(() => foundAt > 0 && referenceAt > 0, 5000, "found dead");
    tcp.proxy.pass();
    const took = foundAt - lastFrameAt;
    const timersLate = Math.max(0, referenceAt - lastFrameAt - (heartbeatMs + pongTimeoutMs));
    expect(took).toBeGreaterThanOrEqual(heartbeatMs + pongTimeoutMs - 20);
    expect(took, `timers here ran ${timersLate} ms late`).toBeLessThanOrEqual(
      heartbeatMs + pongTimeoutMs + 150 + timersLate,
    );
    await h.until(() => h.conversation.state === State.Live, 5000, "back");
  });
});

describe("wake signals", () => {
  it("online and a visible tab cut a long reconnect wait short", async () => {
    tcp.proxy.pass();
    const win = new EventTarget();
    const doc = Object.assign(new EventTarget(), { visibilityState: "hidden" });
    const conv = await w.conversation(["te"]);
    const e = record(
      clients.make("te", {
        url: tcp.proxy.url,
        window: win,
        document: doc,
        reconnectDelay: { minMs: 20_000, maxMs: 20_000 },
      }),
      conv,
    );
    await e.conversation.ready();
    for (const [signal, fire, reason] of [
      ["online", () => win.dispatchEvent(new Event("online")), Reason.NetworkOnline],
      [
        "visible",
        () => {
          doc.visibilityState = "visible";
          doc.dispatchEvent(new Event("visibilitychange"));
        },
        Reason.PageVisible,
      ],
    ] as const) {
      const lives = e.states.filter((s) => s.newState === State.Live).length;
      tcp.proxy.cutAll();
      await e.until(() => e.conversation.state === State.Reconnecting, 3000, `${signal}: dropped`);
      await sleep(100);
      const t0 = Date.now();
      fire();
      await e.until(
        () => e.states.filter((s) => s.newState === State.Live).length > lives,
        3000,
        `${signal}: back`,
      );
      expect(Date.now() - t0).toBeLessThan(2000);
      // The connection the signal brought says why it was made.
      expect(e.states.filter((s) => s.newState === State.Syncing).at(-1)?.reason).toBe(reason);
      doc.visibilityState = "hidden";
    }
  });
});

describe("inbox", () => {
  it("loads the thread list and keeps unread counts live", async () => {
    const c1 = await w.conversation(["ia", "ib"], { title: "one" });
    const c2 = await w.conversation(["ia", "ic"], { title: "two" });
    await send(await w.as("ib"), c1, "i1");
    const client = clients.make("ia");
    const inbox = client.inbox();
    const updates: string[] = [];
    inbox.on("thread", (t) => updates.push(`${t.id}:${t.unread}`));
    await inbox.ready();
    expect(inbox.threads.map((t) => t.id).slice(0, 2)).toEqual([c1, c2]);
    expect(inbox.threads.find((t) => t.id === c1)?.unread).toBe(1);
    await send(await w.as("ic"), c2, "i2");
    await send(await w.as("ic"), c2, "i3");
    for (let i = 0; i < 100 && inbox.threads.find((t) => t.id === c2)?.unread !== 2; i++) await sleep(50);
    expect(inbox.threads[0]?.id).toBe(c2);
    expect(inbox.threads[0]?.unread).toBe(2);
    expect(inbox.unread).toBe(3);
    const conv = client.conversation(c2, { after: 0 });
    await conv.ready();
    await conv.markRead(2);
    for (let i = 0; i < 100 && inbox.threads.find((t) => t.id === c2)?.unread !== 0; i++) await sleep(50);
    expect(inbox.threads.find((t) => t.id === c2)?.unread).toBe(0);
    expect(updates).toContain(`${c2}:0`);
  });

  it("drops a conversation the user is removed from, at once, and shows it again when they are added back", async () => {
    const [user, other] = [uid("ir"), uid("ir")];
    const kept = await w.conversation([user, other], { title: "kept" });
    const left = await w.conversation([user, other], { title: "left" });
    const inbox = clients.make(user).inbox();
    await inbox.ready();
    expect(inbox.threads.map((t) => t.id).sort()).toEqual([kept, left].sort());
    const lists: string[][] = [];
    inbox.on("threads", (rows) => lists.push(rows.map((t) => t.id)));
    const states: string[] = [];
    inbox.on("state", (change) => states.push(change.newState));

    expect((await w.admin.del(`/v1/conversations/${left}/members/${user}`)).status).toBe(204);
    for (let i = 0; i < 100 && inbox.threads.some((t) => t.id === left); i++) await sleep(50);
    expect(inbox.threads.map((t) => t.id)).toEqual([kept]);
    expect(lists.at(-1)).toEqual([kept]);
    // The socket stayed up: no reconnect and reload put the list right.
    expect(states).toEqual([]);

    expect((await w.admin.put(`/v1/conversations/${left}/members/${user}`)).status).toBe(204);
    for (let i = 0; i < 100 && !inbox.threads.some((t) => t.id === left); i++) await sleep(50);
    expect(inbox.threads.map((t) => t.id).sort()).toEqual([kept, left].sort());
  });
});
