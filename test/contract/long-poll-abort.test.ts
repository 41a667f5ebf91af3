/**
 * A long-poll the client gives up on (CONTRACT.md: presence counts "an open socket, SSE stream or
 * long-poll", then the grace period; a held long-poll counts against the connection cap): once
 * aborted it is no longer held, so its user's slot is free at once and presence starts the
 * grace period then, not when the poll's `wait` would have run out.
 */
import { describe, expect, it } from "vitest";
import { eventually, send, uid, useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_MAX_CONNECTIONS_PER_USER: "2", PARLEY_PRESENCE_GRACE_MS: "300" } });

describe("a long-poll the client aborts", () => {
  it("frees its connection slot and ends its presence after the grace period, not after its wait", async () => {
    const [ann, bob] = [uid("ann"), uid("bob")];
    const conv = await w.conversation([ann, bob]);
    const a = await w.as(ann);
    const m = await send(a, conv, "k1", "hi");
    const online = async () => (await a.get(`/v1/conversations/${conv}/presence`)).json.online as string[];
    const token = await w.token(bob);
    // Bob's two slots: two polls held for 30 s each (history and /log).
    const aborts = [new AbortController(), new AbortController()];
    const polls = [
      `/v1/conversations/${conv}/messages?after=${m.seq}&wait=30&token=${token}`,
      `/v1/conversations/${conv}/log?after=${m.seq}&wait=30&token=${token}`,
    ].map((path, i) =>
      fetch(`${w.server.url}${path}`, { signal: (aborts[i] as AbortController).signal }).catch(
        () => undefined,
      ),
    );
    await eventually(async () => (await online()).includes(bob), 5_000);
    for (const abort of aborts) abort.abort();
    await Promise.all(polls);
    const abortedAt = Date.now();
    // Both slots are freed as the relay sees the requests end (well before their 30 s): two
    // sockets of bob's come in (the cap is 2). Each attempt that is refused leaves nothing open.
    const sockets = [];
    for (let i = 0; i < 2; i++)
      sockets.push(
        await eventually(async () => {
          try {
            return await w.synced(bob, conv, { _pk: uid("pk") });
          } catch {
            return false;
          }
        }, 5_000),
      );
    for (const s of sockets) await s.close();
    // With no connection left, bob leaves after the grace period (300 ms), far sooner than 30 s.
    await eventually(async () => !(await online()).includes(bob), 10_000);
    expect(Date.now() - abortedAt).toBeLessThan(10_000);
  });
});
