/** ReadBatch (party/host/read-batch.ts): point reads made close together share one read. */
import { describe, expect, it } from "vitest";
import { ReadBatch } from "../../party/host/read-batch.ts";

function counting() {
  const reads: string[][] = [];
  const batch = new ReadBatch<string>(
    async (keys) => {
      reads.push(keys);
      return new Map(keys.filter((k) => k !== "none").map((k) => [k, `value of ${k}`]));
    },
    3,
    5,
  );
  return { reads, batch };
}

describe("ReadBatch", () => {
  it("gets made before the wait ends share one read; each gets its own value", async () => {
    const { reads, batch } = counting();
    const answers = await Promise.all([batch.get("a"), batch.get("b"), batch.get("a"), batch.get("none")]);
    expect(answers).toEqual(["value of a", "value of b", "value of a", undefined]);
    // A key asked twice is read once.
    expect(reads).toEqual([["a", "b", "none"]]);
  });

  it("a full batch is read at once; later gets open a new one", async () => {
    const { reads, batch } = counting();
    const first = [batch.get("a"), batch.get("b"), batch.get("c")];
    const later = batch.get("d");
    await Promise.all([...first, later]);
    expect(reads).toEqual([["a", "b", "c"], ["d"]]);
  });

  it("a failed read fails every get of its batch, and the next get reads again", async () => {
    let fail = true;
    const batch = new ReadBatch<number>(
      async (keys) => {
        if (fail) throw new Error("store down");
        return new Map(keys.map((k) => [k, 1]));
      },
      10,
      1,
    );
    const results = await Promise.allSettled([batch.get("a"), batch.get("b")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect(await batch.get("a")).toBe(1);
  });
});
