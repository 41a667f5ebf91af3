/**
 * The presence feed on its own (the storm over real sockets is in test/contract/presence.test.ts):
 * deltas are coalesced and netted, every connection's view (its full list, then the deltas)
 * ends equal to who is online, and the tracker's grace period still decides when a user leaves.
 */
import { describe, expect, it } from "vitest";
import type { OutboundFrame } from "../../../party/core/outbound-frame.ts";
import { PresenceTracker } from "../../../party/core/presence.ts";
import { PresenceFeed } from "../../../party/core/room/presence-feed.ts";
import { parseServerFrame } from "../../../protocol/index.ts";

type Presence = { online: string[] } | { joined: string[]; left: string[] };

function feedOf(windowMs = 10_000) {
  const sent: OutboundFrame[] = [];
  /** Per frame sent: the user whose connections it skips, if any. */
  const except: Array<string | undefined> = [];
  const feed = new PresenceFeed(windowMs, (frame, exceptUser) => {
    sent.push(frame);
    except.push(exceptUser);
  });
  const decoded = () => sent.map((f) => parseServerFrame(f.text) as unknown as Presence);
  return { feed, sent, except, decoded };
}

/** What a client holds after a full list and then deltas (as the SDK folds them). */
function fold(view: Set<string>, frame: OutboundFrame): Set<string> {
  const f = parseServerFrame(frame.text) as unknown as Presence;
  if ("online" in f) return new Set(f.online);
  const next = new Set(view);
  for (const u of f.left) next.delete(u);
  for (const u of f.joined) next.add(u);
  return next;
}

const sorted = (s: Iterable<string>) => [...s].sort();

describe("presence feed", () => {
  it("gathers a window's changes into one sorted delta, sent once", () => {
    const { feed, sent, decoded } = feedOf();
    for (const u of ["cy", "ann", "bob"]) feed.changed(u, true);
    expect(sent).toEqual([]);
    feed.flushNow();
    feed.changed("bob", false);
    feed.changed("dee", true);
    feed.flushNow();
    feed.flushNow(); // nothing new: nothing sent
    expect(decoded()).toEqual([
      { type: "presence", joined: ["ann", "bob", "cy"], left: [] },
      { type: "presence", joined: ["dee"], left: ["bob"] },
    ]);
    feed.dispose();
  });

  it("a user who joins and leaves (or leaves and comes back) within one window produces nothing", () => {
    const { feed, sent } = feedOf();
    feed.changed("ann", true);
    feed.flushNow();
    expect(sent).toHaveLength(1);
    feed.changed("bob", true);
    feed.changed("bob", false);
    feed.changed("ann", false);
    feed.changed("ann", true);
    feed.flushNow();
    expect(sent).toHaveLength(1);
    feed.dispose();
  });

  it("the greeting is what the others were told plus the connection's own user, encoded once for all", () => {
    const { feed } = feedOf();
    feed.changed("bob", true);
    feed.changed("ann", true);
    feed.flushNow();
    feed.changed("cy", true); // pending: not in anyone's list yet
    expect(parseServerFrame(feed.greeting("ann").text)).toEqual({ type: "presence", online: ["ann", "bob"] });
    expect(feed.greeting("bob")).toBe(feed.greeting("ann")); // the same bytes
    expect(parseServerFrame(feed.greeting("cy").text)).toEqual({
      type: "presence",
      online: ["ann", "bob", "cy"],
    });
    expect(parseServerFrame(feed.greeting("al").text)).toEqual({
      type: "presence",
      online: ["al", "ann", "bob"],
    });
    feed.dispose();
  });

  it("every connection's view, greeted at any moment, ends equal to who is online (random churn)", () => {
    let seed = 17;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const users = ["a", "b", "c", "d", "e", "f"];
    const { feed, sent, except } = feedOf();
    const truth = new Set<string>();
    let checked = 0;
    let views: Array<{ user: string; view: Set<string>; seen: number }> = [];
    for (let step = 0; step < 3_000; step++) {
      const r = random();
      const user = users[Math.floor(random() * users.length)] as string;
      if (r < 0.3) {
        const online = !truth.has(user);
        if (online) truth.add(user);
        else {
          truth.delete(user);
          // Offline means none of the user's connections is open any more.
          views = views.filter((v) => v.user !== user);
        }
        feed.changed(user, online);
      } else if (r < 0.5 && truth.has(user)) {
        // A connection of an online user syncs now: it starts from its greeting.
        views.push({ user, view: fold(new Set(), feed.greeting(user)), seen: sent.length });
      } else if (r < 0.6) {
        feed.flushNow();
        for (const v of views) {
          for (let i = v.seen; i < sent.length; i++)
            if (except[i] !== v.user) v.view = fold(v.view, sent[i] as OutboundFrame);
          v.seen = sent.length;
          expect(sorted(v.view)).toEqual(sorted(truth));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1_000);
    feed.dispose();
  });

  it("a delta that only says one user joined skips that user's connections (their greeting named it)", () => {
    const { feed, except, decoded } = feedOf();
    feed.changed("ann", true);
    feed.flushNow();
    feed.changed("bob", true);
    feed.changed("cy", true);
    feed.flushNow();
    feed.changed("ann", false);
    feed.changed("dee", true);
    feed.flushNow();
    expect(decoded()).toEqual([
      { type: "presence", joined: ["ann"], left: [] },
      { type: "presence", joined: ["bob", "cy"], left: [] },
      { type: "presence", joined: ["dee"], left: ["ann"] },
    ]);
    expect(except).toEqual(["ann", undefined, undefined]);
    feed.dispose();
  });

  it("connections adopted after hibernation get the full list at the next flush", () => {
    const { feed, decoded } = feedOf();
    feed.changed("ann", true);
    feed.resync();
    feed.flushNow();
    feed.resync(); // nothing changed, but the adopted ones still need the list
    feed.flushNow();
    expect(decoded()).toEqual([
      { type: "presence", online: ["ann"] },
      { type: "presence", online: ["ann"] },
    ]);
    feed.dispose();
  });

  it("sends on its own after the window, with one timer for many changes", async () => {
    const { feed, decoded } = feedOf(30);
    feed.changed("ann", true);
    expect(feed.pending).toBe(true);
    feed.changed("bob", true);
    for (let i = 0; i < 100 && feed.pending; i++) await new Promise((r) => setTimeout(r, 10));
    expect(feed.pending).toBe(false);
    expect(decoded()).toEqual([{ type: "presence", joined: ["ann", "bob"], left: [] }]);
    feed.dispose();
  });

  it("with the tracker: a reconnect within the grace period sends nothing; leaving after it does", async () => {
    const { feed, decoded } = feedOf();
    const tracker = new PresenceTracker(40, (user, online) => feed.changed(user, online));
    const release = tracker.hold("ann");
    feed.flushNow();
    release();
    const again = tracker.hold("ann"); // back within the grace period
    await new Promise((r) => setTimeout(r, 80));
    feed.flushNow();
    expect(decoded()).toEqual([{ type: "presence", joined: ["ann"], left: [] }]);
    again();
    for (let i = 0; i < 100 && tracker.isOnline("ann"); i++) await new Promise((r) => setTimeout(r, 10));
    feed.flushNow();
    expect(decoded().at(-1)).toEqual({ type: "presence", joined: [], left: ["ann"] });
    tracker.dispose();
    feed.dispose();
  });
});
