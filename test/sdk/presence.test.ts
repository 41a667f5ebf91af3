/**
 * The SDK's online set, fed by the relay's full list and deltas (CONTRACT.md v1.1 "Frames"):
 * right after joins and leaves, over WebSocket and SSE; empty while disconnected; and after a
 * reconnect, the new connection's list replaces it (a user who left meanwhile is not kept).
 * Typing indicators are dropped with it while disconnected.
 */
import { describe, expect, it } from "vitest";
import { State } from "../../client/index.ts";
import { uid, useServer } from "../helpers/world.ts";
import { type Recorder, record, useClients, useTcpProxy } from "./harness.ts";

const GRACE = 300;
const w = useServer({ env: { PARLEY_PRESENCE_GRACE_MS: String(GRACE) } });
const clients = useClients(w);
const tcp = useTcpProxy(w);

const sorted = (users: string[]) => [...users].sort();
const holds = (r: Recorder, users: string[]) =>
  r.until(
    () => JSON.stringify(r.conversation.online) === JSON.stringify(sorted(users)),
    10_000,
    `online = ${JSON.stringify(sorted(users))} (has ${JSON.stringify(r.conversation.online)})`,
  );

describe("presence in the SDK", () => {
  it("joins and leaves over WebSocket and SSE; empty while away; a reconnect starts from the new list", async () => {
    const [ann, bob, cy, dee] = [uid("ann"), uid("bob"), uid("cy"), uid("dee")];
    const conv = await w.conversation([ann, bob, cy, dee]);
    // Ann goes through the proxy (to be cut off); Dee reads over SSE.
    const a = record(clients.make(ann, { url: tcp.proxy.url, transport: "websocket" }), conv);
    const b = record(clients.make(bob), conv);
    const d = record(clients.make(dee, { transport: "sse" }), conv);
    await Promise.all([a.conversation.ready(), b.conversation.ready(), d.conversation.ready()]);
    for (const r of [a, b, d]) await holds(r, [ann, bob, dee]);

    // A join, then a leave (after the grace period), reach every transport.
    const cyClient = clients.make(cy);
    const c = record(cyClient, conv);
    await c.conversation.ready();
    for (const r of [a, b, c, d]) await holds(r, [ann, bob, cy, dee]);
    cyClient.close();
    for (const r of [a, b, d]) await holds(r, [ann, bob, dee]);
    // Each event carried the whole set, never a user twice.
    for (const r of [a, b, d]) for (const set of r.presence) expect(new Set(set).size).toBe(set.length);

    // Bob is typing as Ann's network goes half-open: once she notices, she knows nobody is online,
    // and nobody typing (she could not hear him stop).
    b.conversation.typing();
    await a.until(() => a.conversation.typingUsers.includes(bob), 10_000, "ann sees bob typing");
    const heard = a.presence.length;
    tcp.proxy.stall();
    await a.until(() => a.conversation.state === State.Reconnecting, 5000, "ann noticed");
    expect(a.conversation.online).toEqual([]);
    expect(a.conversation.typingUsers).toEqual([]);
    expect(a.presence.slice(heard)).toContainEqual([]);
    // Bob leaves while she is away; she never hears of it as a delta.
    b.conversation.close();
    await holds(d, [ann, dee]); // ann's old socket is still open on the relay's side
    tcp.proxy.pass();
    await a.until(() => a.conversation.state === State.Live, 15_000, "ann back");
    await holds(a, [ann, dee]);
    // Nothing she held from before (bob) survived the reconnect.
    const sinceBack = a.presence.slice(a.presence.findIndex((set, i) => i >= heard && set.length === 0));
    expect(sinceBack.some((set) => set.includes(bob))).toBe(false);
  }, 60_000);
});
