/** Process lifecycle: health check, graceful SIGTERM (1001, exit 0), data kept across restarts. */
import { describe, expect, it } from "vitest";
import { api, WsClient } from "../helpers/clients.ts";
import { history, range, send, useServer } from "../helpers/world.ts";

const w = useServer();

describe("lifecycle", () => {
  it("GET /healthz -> 200 {ok:true} without credentials", async () => {
    const res = await api(w.server.url, null).get("/healthz");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ok: true });
  });

  it("unknown routes answer 404 with the error shape", async () => {
    const res = await api(w.server.url, null).get("/v1/no-such-route");
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  });

  it("SIGTERM: conversation and inbox sockets get 1001, the process exits 0, acked messages survive", async () => {
    const conv = await w.conversation(["term-a", "term-b"]);
    const a = await w.as("term-a");
    const sockets = [await w.synced("term-a", conv), await w.synced("term-b", conv)];
    const inbox = await w.inbox("term-b");
    await inbox.opened;
    // Sends racing the shutdown: each either succeeds (and must survive) or fails cleanly.
    for (let i = 1; i <= 10; i++) await send(a, conv, `pre-${i}`);
    const racing = range(1, 40).map((i) =>
      a
        .post(`/v1/conversations/${conv}/messages`, { clientMessageId: `race-${i}`, body: `r${i}` })
        .then((r) => (r.status === 201 ? `race-${i}` : null))
        .catch(() => null),
    );
    // SIGTERM while they are on their way: once the first is answered, the others are in the
    // relay (parsed, in a room's batch, or being committed).
    await Promise.race(racing);
    const exit = await w.server.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    for (const s of [...sockets, inbox]) expect((await s.closed).code).toBe(1001);
    const ackedRacing = (await Promise.all(racing)).filter((k): k is string => k !== null);

    await w.server.restart();
    const all = await history(a, conv);
    const keys = all.map((m) => m.clientMessageId);
    expect(all.map((m) => m.seq)).toEqual(range(1, all.length));
    for (let i = 1; i <= 10; i++) expect(keys).toContain(`pre-${i}`);
    for (const k of ackedRacing) expect(keys).toContain(k);
    // And the other way: a send the relay stored while it shut down was answered 201, not cut
    // off with a reset (its sender would retry a message that is already there).
    const storedRacing = keys.filter((k) => k.startsWith("race-"));
    expect(storedRacing.filter((k) => !ackedRacing.includes(k))).toEqual([]);
    expect(new Set(keys).size).toBe(keys.length);

    // And the restarted server serves sockets again.
    const again = w.track(
      WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, {
        token: await w.token("term-b"),
        after: 0,
      }),
    );
    const synced = await again.waitFor((f) => f.type === "synced");
    expect(synced.lastSeq).toBe(all.length);
  });
});
