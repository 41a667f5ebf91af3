/**
 * An entry that falls out of the log window is let go at once, with its message and frame: the
 * window used to keep up to 1,024 of them per room until it compacted its array (issue 17).
 * Checked with a real garbage collection: a WeakRef to the entry must be cleared.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { LogWindow, type WindowEntry } from "../../../party/core/room/log-window.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** A turn of the event loop: a WeakRef's target is kept until the job that made it ends. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Pushes entries 1..count into `window`; returns WeakRefs to each, by seq. */
function fill(window: LogWindow, count: number): Map<number, WeakRef<WindowEntry>> {
  const refs = new Map<number, WeakRef<WindowEntry>>();
  for (let seq = 1; seq <= count; seq++) {
    const entry: WindowEntry = { seq, target: seq, key: `k${seq}` };
    refs.set(seq, new WeakRef(entry));
    window.push(entry);
  }
  return refs;
}

describe("log window", () => {
  it("lets an entry go as soon as it leaves the window, and keeps the ones inside", async () => {
    const window = new LogWindow(3);
    const refs = fill(window, 10);
    await nextTurn();
    gc();
    // Seqs 1..7 left; 10 entries are far below the 1,024 the window compacts at.
    for (let seq = 1; seq <= 7; seq++) expect(refs.get(seq)?.deref(), `seq ${seq}`).toBeUndefined();
    for (let seq = 8; seq <= 10; seq++) expect(refs.get(seq)?.deref()?.seq).toBe(seq);
    expect(window.firstSeq).toBe(8);
    expect([...window.entries()].map((e) => e.seq)).toEqual([8, 9, 10]);
  });

  it("reads the same after emptied slots and a compaction", () => {
    const window = new LogWindow(5);
    fill(window, 3_000); // compacts at least once (past 1,024 evictions)
    expect(window.size).toBe(5);
    expect(window.firstSeq).toBe(2_996);
    expect(window.after(2_997, 10)?.map((e) => e.seq)).toEqual([2_998, 2_999, 3_000]);
    expect(window.after(2_990, 10)).toBeNull(); // below the window: the store answers
    expect(window.messagesBefore(undefined, 2)?.map((e) => e.seq)).toEqual([2_999, 3_000]);
    expect(window.at(2_996)?.seq).toBe(2_996);
    expect(window.at(2_995)).toBeUndefined();
  });
});
