import { describe, expect, it } from "vitest";
import type { AppendRows } from "../../store/append-rows.ts";
import { GATHER_MAX_MS, GroupCommit } from "../../store/group-commit.ts";

const job = (conversationId: string): AppendRows => ({ app: "default", conversationId, batch: [] });
const turn = () => new Promise<void>((r) => setImmediate(r));

/** A GroupCommit whose transactions are recorded (conversation ids per transaction). */
function recording(fail?: (jobs: readonly AppendRows[]) => Error | undefined) {
  const groups: string[][] = [];
  const group = new GroupCommit((jobs) => {
    const error = fail?.(jobs);
    if (error) throw error;
    groups.push(jobs.map((j) => j.conversationId));
  }, setImmediate);
  return { group, groups };
}

describe("group commit", () => {
  it("a lone batch commits after one quiet turn", async () => {
    const { group, groups } = recording();
    const started = performance.now();
    await group.append(job("a"));
    expect(groups).toEqual([["a"]]);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it("batches that keep arriving, one per turn, share transactions", async () => {
    const { group, groups } = recording();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      pending.push(group.append(job(`c${i}`)));
      await turn();
    }
    await Promise.all(pending);
    expect(groups.flat()).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`));
    // Committing at the next turn, as before, gives one or two per transaction.
    expect(groups.length).toBeLessThan(10);
  });

  it("a steady stream still commits: the first batch does not wait for the stream to end", async () => {
    const { group, groups } = recording();
    const appendedAt = performance.now();
    let firstDoneAt = 0;
    const first = group.append(job("first")).then(() => {
      firstDoneAt = performance.now();
    });
    const pending: Promise<void>[] = [first];
    const streamMs = 30 * GATHER_MAX_MS;
    for (let i = 0; i < 100_000 && performance.now() - appendedAt < streamMs; i++) {
      pending.push(group.append(job(`s${i}`)));
      await turn();
    }
    await Promise.all(pending);
    expect(firstDoneAt).toBeGreaterThan(0);
    expect(firstDoneAt - appendedAt).toBeLessThan(streamMs / 2);
    expect(groups.length).toBeGreaterThan(3);
  });

  it("a retried key fails only its own room's batch; other failures fail the whole group", async () => {
    const duplicate = new Error("UNIQUE constraint failed: messages.app, messages.client_message_id");
    const dup = recording((jobs) => (jobs.some((j) => j.conversationId === "dup") ? duplicate : undefined));
    const results = await Promise.allSettled([
      dup.group.append(job("ok1")),
      dup.group.append(job("dup")),
      dup.group.append(job("ok2")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(dup.groups).toEqual([["ok1"], ["ok2"]]);

    const busy = new Error("SQLITE_BUSY: database is locked");
    const down = recording(() => busy);
    const failed = await Promise.allSettled([down.group.append(job("x")), down.group.append(job("y"))]);
    expect(failed).toEqual([
      { status: "rejected", reason: busy },
      { status: "rejected", reason: busy },
    ]);
  });
});
