/**
 * Thread-list delivery on the edge (issue 17): a room tells only the inboxes that listen. Every
 * edge actor logs one line when it starts (`parley: inbox <app>:<user> started …`), and the test
 * counts them in the relay's output: creating a room of many members with no open inbox, and a
 * burst of commits in it, must start none, while a member with an open inbox still gets the thread frames, and so
 * do one whose inbox opens after the room was created and one added later.
 */
import { describe, expect, it } from "vitest";
import type { StartOptions } from "../helpers/server.ts";
import { eventually, range, sleep, uid, useServer } from "../helpers/world.ts";

/** Long enough for local workerd to evict an idle object (it does after about 10-20 s). */
const IDLE_MS = Number(process.env.HIBERNATION_IDLE_MS ?? 25_000);
/** An inbox whose last socket closed unregisters after this long (party/edge/inbox-actor.ts). */
const INBOX_HOLD_MS = 10_000;

export function edgeInboxSuite(name: string, start: StartOptions): void {
  const w = useServer(start);
  const startsOf = (user: string) => w.server.output().split(`inbox default:${user} started`).length - 1;
  const drops = (user: string) => w.server.output().split(`dropped the inbox of ${user}:`).length - 1;

  describe(`edge inbox registration: ${name}`, () => {
    it("creating a room and a burst of commits wake no inbox without a listener; a listening one hears every change", async () => {
      const quiet = range(1, 40).map(() => uid("q"));
      const listener = uid("l");
      const inbox = w.track(await w.inbox(listener));
      await inbox.opened;
      // Created while the listener's inbox is open: it hears of the room and registers there.
      const conv = await w.conversation([listener, ...quiet]);
      await inbox.waitFor((f) => f.type === "thread" && f.conversation.id === conv);
      // The listener's inbox actor logs its start (the output is read through a pipe: wait for it).
      await eventually(async () => startsOf(listener) === 1, 5000);

      const sender = await w.as(quiet[0] as string);
      for (const wave of range(0, 2)) {
        const sends = range(1, 10).map((i) =>
          sender.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `b${wave}-${i}`, body: "x" }),
        );
        expect((await Promise.all(sends)).map((r) => r.status)).toEqual(range(1, 10).map(() => 201));
        await sleep(250); // past the 100 ms coalescing window: each wave is its own thread update
      }
      const last = await inbox.waitFor(
        (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 30,
        5000,
      );
      expect(last.conversation).toMatchObject({ unread: 30, lastReadSeq: 0 });
      expect(inbox.ofType("thread").filter((f) => f.conversation.id === conv).length).toBeGreaterThanOrEqual(
        3,
      );
      await sleep(1000); // any start line would have arrived by now
      expect(quiet.map(startsOf), "creating the room or a commit woke an inbox nobody listens to").toEqual(
        quiet.map(() => 0),
      );

      // The control: one of them opens an inbox now; its actor starts (so a start is seen when
      // there is one), registers, and hears the room's next change.
      const late = quiet[1] as string;
      const opened = w.track(await w.inbox(late));
      await opened.opened;
      await eventually(async () => startsOf(late) === 1, 5000);
      expect(
        (await sender.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "after", body: "x" }))
          .status,
      ).toBe(201);
      await opened.waitFor(
        (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 31,
      );
    }, 60_000);

    it("an inbox that opens after the room was created gets its thread frames", async () => {
      const [ann, bob] = [uid("a"), uid("b")];
      const conv = await w.conversation([ann, bob]);
      const inbox = w.track(await w.inbox(bob));
      await inbox.opened;
      expect(
        (
          await (
            await w.as(ann)
          ).post(`/v1/conversations/${conv}/messages`, { clientMessageId: "o1", body: "hi" })
        ).status,
      ).toBe(201);
      const thread = await inbox.waitFor(
        (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 1,
      );
      expect(thread.conversation).toMatchObject({ unread: 1 });
    });

    it("a member added later hears of the room at once and gets its thread frames; removed, no more", async () => {
      const [ann, late] = [uid("a"), uid("late")];
      const conv = await w.conversation([ann]);
      const inbox = w.track(await w.inbox(late));
      await inbox.opened;
      const added = await w.admin.put(`/v1/conversations/${conv}/members/${late}`);
      expect(added.status, added.text).toBeLessThan(300);
      await inbox.waitFor((f) => f.type === "thread" && f.conversation.id === conv);
      const a = await w.as(ann);
      expect(
        (await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "m1", body: "1" })).status,
      ).toBe(201);
      await inbox.waitFor(
        (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 1,
      );

      const removed = await w.admin.del(`/v1/conversations/${conv}/members/${late}`);
      expect(removed.status, removed.text).toBeLessThan(300);
      expect(
        (await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "m2", body: "2" })).status,
      ).toBe(201);
      await sleep(500);
      expect(
        inbox.ofType("thread").some((f) => f.conversation.id === conv && f.conversation.lastSeq === 2),
      ).toBe(false);
    });

    it("an inbox that closed unregisters: the room never has to drop it", async () => {
      const [ann, bob] = [uid("a"), uid("b")];
      const conv = await w.conversation([ann, bob]);
      const inbox = w.track(await w.inbox(bob));
      await inbox.opened;
      const a = await w.as(ann);
      expect(
        (await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "c1", body: "1" })).status,
      ).toBe(201);
      await inbox.waitFor(
        (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 1,
      );
      await inbox.close();
      await sleep(INBOX_HOLD_MS + 2000);
      expect(
        (await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "c2", body: "2" })).status,
      ).toBe(201);
      await sleep(1000);
      // Had the room still counted bob as listening, its delivery would have been refused, and
      // the room would say so when it dropped him.
      expect(drops(bob)).toBe(0);

      // Unregistered, the inbox's mark is gone too: once workerd has evicted the idle actor, a new
      // conversation with bob does not start it again.
      const startsBefore = startsOf(bob);
      await sleep(IDLE_MS);
      const other = await w.conversation([ann, bob]);
      await sleep(1000);
      expect(startsOf(bob), "a new conversation woke an inbox nobody listens to").toBe(startsBefore);

      // Open again: registered again, and the next change arrives (and the actor starts again,
      // which shows it had been evicted: the unchanged count above is not a live actor's).
      const again = w.track(await w.inbox(bob));
      await again.opened;
      expect(
        (await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "c3", body: "3" })).status,
      ).toBe(201);
      await again.waitFor(
        (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 3,
      );
      await eventually(async () => startsOf(bob) === startsBefore + 1, 5000);
      // The conversation created while it was away is found by the registration.
      expect(
        (await a.post(`/v1/conversations/${other}/messages`, { clientMessageId: "o1", body: "1" })).status,
      ).toBe(201);
      await again.waitFor(
        (f) => f.type === "thread" && f.conversation.id === other && f.conversation.lastSeq === 1,
      );
    }, 90_000);
  });
}
