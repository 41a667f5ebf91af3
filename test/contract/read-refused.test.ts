/**
 * A read position the store refused (503) is not kept: the retry the 503 asks for is stored.
 * Found from outside: the room moved the position in memory before the write and kept it when
 * the write failed, so the retry answered 204 without a write, the thread list and the
 * conversation disagreed, and after a restart the position was back at 0.
 */
import path from "node:path";
import { createClient } from "@libsql/client";
import { describe, expect, it } from "vitest";
import { uid, useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_DB_BUSY_TIMEOUT_MS: "200" } });

describe("a read refused by the store", () => {
  it("is not kept: the retry is stored, and the thread list and the conversation agree", async () => {
    const [ann, bob] = [uid("ann"), uid("bob")];
    const conv = await w.conversation([ann, bob]);
    const annApi = await w.as(ann);
    const bobApi = await w.as(bob);
    for (let i = 0; i < 3; i++)
      expect(
        (await annApi.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `k${i}`, body: `m${i}` }))
          .status,
      ).toBe(201);
    // Another connection holds the write lock: the relay's write waits 200 ms, then gives up.
    const locker = createClient({ url: `file:${path.join(w.server.dbDir, "parley.db")}` });
    const tx = await locker.transaction("write");
    try {
      await tx.execute("UPDATE conversations SET title = title WHERE id = 'none'");
      const refused = await bobApi.post(`/v1/conversations/${conv}/read`, { seq: 2 });
      expect(refused.status).toBe(503);
    } finally {
      await tx.rollback();
      locker.close();
    }
    expect((await bobApi.post(`/v1/conversations/${conv}/read`, { seq: 2 })).status).toBe(204);
    const row = (await bobApi.get("/v1/conversations")).json.conversations.find(
      (c: { id: string }) => c.id === conv,
    );
    expect([row.lastReadSeq, row.unread]).toEqual([2, 1]);
    const info = (await bobApi.get(`/v1/conversations/${conv}`)).json.conversation;
    expect(info.members.find((m: { userId: string }) => m.userId === bob).lastReadSeq).toBe(2);
  });
});
