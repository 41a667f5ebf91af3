/**
 * Hibernation on local workerd: a room with a connected socket and no traffic is evicted from
 * memory (the object logs each start), then a send wakes it. The kept socket gets the new
 * message exactly once, a resume from 0 gets everything, and nothing was lost. The woken room
 * no longer knows what the kept socket was told of presence: it sends it the full list again.
 */
import { describe, expect, it } from "vitest";
import { history, range, sleep, useServer } from "../helpers/world.ts";

const w = useServer({ runtime: "workers" });
/** Long enough for local workerd to evict an idle object (it does after about 10-20 s). */
const IDLE_MS = Number(process.env.HIBERNATION_IDLE_MS ?? 25_000);

describe("workers: hibernation", () => {
  it("evicts an idle room, wakes it on a send, and loses nothing", async () => {
    const conv = await w.conversation(["ann", "bob"]);
    const ann = await w.as("ann");
    const bob = await w.synced("bob", conv);
    for (const i of range(1, 3)) {
      expect(
        (await ann.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `h${i}`, body: `${i}` }))
          .status,
      ).toBe(201);
    }
    expect(await bob.waitForMessages(3)).toEqual([1, 2, 3]);
    const starts = () => w.server.output().split(`room default:${conv} started`).length - 1;
    const before = starts();

    // Idle: workerd evicts a hibernatable object after about 10-20 s without events (any request
    // would count as one, so the test only waits). A ping meanwhile is answered by the runtime's
    // auto-response, which does not wake the room.
    await sleep(IDLE_MS / 2);
    bob.send({ type: "ping" });
    await bob.waitFor((f) => f.type === "pong");
    await sleep(IDLE_MS / 2);
    expect(starts(), "a ping woke the room").toBe(before);
    expect(
      (await ann.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "h4", body: "4" })).status,
    ).toBe(201);
    // The restart's log line travels through the server's stdout: allow it a moment to arrive.
    for (let i = 0; i < 40 && starts() === before; i++) await sleep(50);
    expect(starts(), "the room was not evicted while idle (no restart after the send)").toBeGreaterThan(
      before,
    );
    expect(w.server.output()).toMatch(
      new RegExp(`room default:${conv} started at seq 3 with 1 kept sockets`),
    );

    expect(await bob.waitForMessages(4)).toEqual([1, 2, 3, 4]);
    const lists = () => bob.ofType("presence").filter((f) => Array.isArray(f.online));
    await bob.until(() => lists().length === 2, 5000, "the full presence list again after the wake");
    expect(lists().at(-1)?.online).toEqual(["bob"]);
    expect(bob.online()).toEqual(["bob"]);
    const resumed = await w.synced("ann", conv, { after: 0 });
    expect(resumed.messages()).toEqual([1, 2, 3, 4]);
    expect((await history(ann, conv)).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  }, 90_000);
});
