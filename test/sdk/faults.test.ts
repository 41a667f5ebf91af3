/**
 * Faults from a real TCP proxy between the SDK and the relay (cut, half-open stall, latency,
 * a send lost before or after the server, injected 503/429) and a SIGKILL of the relay. Each
 * scenario ends with the same verdict: every message sent is stored exactly once, and every
 * client received every message once, in order.
 */
import { describe, expect, it } from "vitest";
import type { ParleyClientOptions } from "../../client/index.ts";
import { Reason, State } from "../../client/index.ts";
import { uid, useServer } from "../helpers/world.ts";
import { expectExactlyOnce, type Recorder, record, sleep, useClients, useTcpProxy } from "./harness.ts";

const w = useServer({
  env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000", PARLEY_HEARTBEAT_MS: "1000" },
});
const clients = useClients(w);
const tcp = useTcpProxy(w);

const SEND_HTTP = /POST \/v1\/conversations\/[^/ ]+\/messages/;
const SEND_FRAME = /"type":"send"/;

/** Two members through the proxy (one sends over HTTP, one over the socket) and a direct watcher. */
async function scenario(opts: { a?: Partial<ParleyClientOptions>; b?: Partial<ParleyClientOptions> } = {}) {
  tcp.proxy.pass();
  // Fresh users per scenario: zombie connections of earlier faults count against per-user caps.
  const [ua, ub, uw] = [uid("fa"), uid("fb"), uid("fw")];
  const conv = await w.conversation([ua, ub, uw]);
  const a = record(clients.make(ua, { url: tcp.proxy.url, ...opts.a }), conv);
  const b = record(clients.make(ub, { url: tcp.proxy.url, sendOver: "socket", ...opts.b }), conv);
  const watcher = record(clients.make(uw), conv);
  await Promise.all([a.conversation.ready(), b.conversation.ready(), watcher.conversation.ready()]);
  const sent: string[] = [];
  const pending: Promise<unknown>[] = [];
  const send = (r: Recorder, body: string) => {
    sent.push(body);
    pending.push(r.conversation.send(body));
  };
  const verdict = async (recorders: Recorder[] = [a, b, watcher]) => {
    await Promise.all(pending);
    return expectExactlyOnce(await w.as(uw), conv, sent, recorders);
  };
  return { conv, a, b, watcher, send, verdict };
}

describe("faults between the SDK and the relay", () => {
  it("cut: every connection dropped, three times, mid-conversation", async () => {
    const s = await scenario();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) {
        s.send(s.a, `cut-a-${round}-${i}`);
        s.send(s.b, `cut-b-${round}-${i}`);
      }
      await sleep(20);
      tcp.proxy.cutAll();
      await sleep(150);
    }
    await s.verdict();
    expect(s.a.synced.length).toBeGreaterThanOrEqual(2);
  });

  it("stall: a half-open connection is found by the heartbeat and resumed", async () => {
    const s = await scenario();
    s.send(s.a, "before stall");
    await s.b.messagesAtLeast(1);
    tcp.proxy.stall();
    // Sends from the stalled side wait in the outbox; the watcher keeps talking directly.
    s.send(s.a, "from the stalled side");
    s.send(s.b, "from the stalled socket");
    for (let i = 0; i < 3; i++) s.send(s.watcher, `while stalled ${i}`);
    await s.a.until(() => s.a.conversation.state === State.Reconnecting, 3000, "a noticed the stall");
    await s.b.until(() => s.b.conversation.state === State.Reconnecting, 3000, "b noticed the stall");
    expect(s.a.states.map((x) => x.reason)).toContain("heartbeat_timeout");
    tcp.proxy.pass();
    await s.verdict();
  });

  it("delay: 150 ms each way on every chunk", async () => {
    const s = await scenario();
    tcp.proxy.delay(150);
    for (let i = 0; i < 5; i++) {
      s.send(s.a, `slow-a-${i}`);
      s.send(s.b, `slow-b-${i}`);
      s.send(s.watcher, `slow-w-${i}`);
    }
    await s.verdict();
    tcp.proxy.pass();
  });

  it("drop: an HTTP send lost before the server, and one whose answer is lost", async () => {
    const s = await scenario();
    const before = tcp.proxy.dropNext({ match: SEND_HTTP, phase: "request" });
    s.send(s.a, "lost on the way in");
    await before;
    const after = tcp.proxy.dropNext({ match: SEND_HTTP, phase: "response" });
    s.send(s.a, "stored but the answer is lost");
    await after;
    s.send(s.a, "after the drops");
    await s.verdict();
  });

  it("drop: a socket send lost before the server, and one whose ack is lost", async () => {
    const s = await scenario();
    // A message is never shown twice: when it arrives as a message (the replay after the lost
    // ack), it is no longer pending in the outbox (README: pending until `sent`).
    const shownWhilePending: string[] = [];
    s.b.conversation.on("message", (m) => {
      if (s.b.conversation.pending.some((e) => e.clientMessageId === m.clientMessageId))
        shownWhilePending.push(m.body);
    });
    const before = tcp.proxy.dropNext({ match: SEND_FRAME, phase: "request" });
    s.send(s.b, "frame lost on the way in");
    await before;
    const after = tcp.proxy.dropNext({ match: SEND_FRAME, phase: "response" });
    s.send(s.b, "frame stored, ack lost");
    await after;
    s.send(s.b, "frame after the drops");
    await s.verdict();
    expect(shownWhilePending).toEqual([]);
  });

  it("503 and 429 with Retry-After are retried no earlier than asked", async () => {
    const s = await scenario();
    const t0 = Date.now();
    const unavailable = tcp.proxy.respondNext({
      match: SEND_HTTP,
      status: 503,
      headers: { "retry-after": "1" },
    });
    s.send(s.a, "after a 503");
    await unavailable;
    await s.verdict();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    const t1 = Date.now();
    const limited = tcp.proxy.respondNext({ match: SEND_HTTP, status: 429, headers: { "retry-after": "1" } });
    s.send(s.a, "after a 429");
    await limited;
    await s.verdict();
    expect(Date.now() - t1).toBeGreaterThanOrEqual(950);
  });

  it("SIGKILL: the relay dies mid-conversation and restarts on the same port", async () => {
    const s = await scenario();
    for (let i = 0; i < 5; i++) s.send(s.a, `pre-kill-${i}`);
    await sleep(50);
    await w.server.kill();
    for (let i = 0; i < 3; i++) {
      s.send(s.a, `during-a-${i}`);
      s.send(s.b, `during-b-${i}`);
      s.send(s.watcher, `during-w-${i}`);
    }
    await s.a.until(() => s.a.conversation.state === State.Reconnecting, 3000, "a noticed");
    await sleep(300);
    await w.server.restart();
    await s.verdict();
    // Every message is in; the catch-up's `synced` (after a gap fill, say) may follow a moment later.
    for (const r of [s.a, s.b, s.watcher]) {
      await r.until(() => r.conversation.state === State.Live, 5000, "live again after the restart");
    }
  });

  it("SIGTERM: the relay shuts down (1001) and comes back; clients resume", async () => {
    const s = await scenario();
    s.send(s.a, "before shutdown");
    await s.watcher.messagesAtLeast(1);
    const restarting = w.server.restart();
    s.send(s.b, "during shutdown");
    await restarting;
    s.send(s.watcher, "after restart");
    await s.verdict();
    expect(s.watcher.states.map((x) => x.reason)).toContain(Reason.ServerShutdown);
  });
});
