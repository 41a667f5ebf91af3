/**
 * The sequencer's divergence check (a relay restored from an older backup whose log grew past
 * the client's cursor again): it re-reads from the oldest remembered entry, skips entries that
 * match what it delivered, and reports the seq where the two logs part. The relay's log here is
 * an array handed to `fetchAfter` (test/sdk/backup-restore.test.ts runs the real thing).
 */
import { describe, expect, it } from "vitest";
import { entrySeq, Sequencer } from "../../client/sequencer.ts";
import type { LogEntry, LogPage } from "../../client/types.ts";

const entry = (seq: number, id: string): LogEntry => ({
  type: "message",
  message: {
    id,
    conversationId: "c",
    seq,
    senderId: "u",
    clientMessageId: id,
    body: id,
    createdAt: new Date(0).toISOString(),
    reactions: {},
    replyCount: 0,
  },
});
const log = (n: number, prefix: string, from = 1) =>
  Array.from({ length: n }, (_, i) => entry(from + i, `${prefix}${from + i}`));

function sequencer(relay: () => LogEntry[], lastSeq = 0) {
  const delivered: string[] = [];
  const resets: Array<[number, number]> = [];
  const seq = new Sequencer({
    lastSeq,
    fetchAfter: async (after, limit): Promise<LogPage> => {
      const entries = relay()
        .filter((e) => entrySeq(e) > after)
        .slice(0, limit);
      return { entries, lastSeq: relay().length, hasMore: false };
    },
    deliver: (e) => delivered.push(e.type === "message" ? e.message.id : "change"),
    onSynced: () => undefined,
    onFillFailed: (e) => {
      throw e;
    },
    onDiverged: (last, previous) => resets.push([last, previous]),
  });
  return { seq, delivered, resets };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe("Sequencer.diverged", () => {
  it("reports the seq where the logs part and delivers the new entries from there", async () => {
    let relay = log(10, "old");
    const s = sequencer(() => relay);
    for (const e of relay) s.seq.receive(e);
    expect(s.delivered).toHaveLength(10);
    expect(s.seq.keyAt(10)).toBe("m:old10");
    // Restored at 6, then 7..12 new.
    relay = [...log(6, "old"), ...log(6, "new", 7)];
    s.seq.diverged();
    // The resumed transport's replay: the entry at the cursor, then what is above it.
    for (const e of relay.slice(9)) s.seq.receive(e);
    s.seq.synced(12);
    await until(() => s.delivered.length >= 16);
    expect(s.resets).toEqual([[6, 10]]);
    expect(s.delivered.slice(10)).toEqual(["new7", "new8", "new9", "new10", "new11", "new12"]);
    expect(s.seq.lastSeq).toBe(12);
  });

  it("looks back at most 256 entries: an older divergence resets at the oldest remembered", async () => {
    let relay = log(300, "old");
    const s = sequencer(() => relay);
    for (const e of relay) s.seq.receive(e);
    expect(s.seq.keyAt(44)).toBeUndefined();
    expect(s.seq.keyAt(45)).toBe("m:old45");
    relay = [...log(10, "old"), ...log(290, "new", 11)];
    s.seq.diverged();
    s.seq.receive(relay[299] as LogEntry);
    await until(() => s.delivered.length >= 300 + 256);
    expect(s.resets).toEqual([[44, 300]]);
    expect(s.delivered.slice(300, 302)).toEqual(["new45", "new46"]);
    expect(s.delivered).toHaveLength(300 + 256);
  });
});
