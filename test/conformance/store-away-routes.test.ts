/**
 * While the remote libSQL server cannot be reached, every route that needs it answers 503
 * `store_unavailable` with a Retry-After (safe to retry; `parley/server` retries 503), never 500
 * `internal`; once it is back, the same calls succeed. Found from outside: the thread list,
 * member changes and the webhook endpoints answered 500 on Node and on the edge.
 * A real sqld behind a real TCP proxy that closes every connection (relay-on-sqld.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiResponse } from "../helpers/clients.ts";
import { type RelayOnSqld, startRelayOnSqld } from "../helpers/relay-on-sqld.ts";

/** The relay's bound on one libSQL call: a route waits for sqld no longer than this. */
const DB_TIMEOUT_MS = 1500;

for (const runtime of ["node", "workers"] as const) {
  describe(`routes while the remote store is away (${runtime})`, () => {
    let relay: RelayOnSqld;

    beforeAll(async () => {
      relay = await startRelayOnSqld(runtime, {
        PARLEY_DB_TIMEOUT_MS: String(DB_TIMEOUT_MS),
        // The endpoint below is on loopback.
        PARLEY_WEBHOOK_ALLOW_PRIVATE: "1",
      });
    }, 120_000);

    afterAll(async () => {
      await relay?.dispose();
    });

    it("answer 503 store_unavailable, then work once it is back", async () => {
      const { admin, ann } = relay;
      const id = `away-${runtime}-${Date.now().toString(36)}`;
      expect((await admin.post("/v1/conversations", { id, members: ["ann", "bob"] })).status).toBe(201);
      // The room is loaded, so the member changes below reach the room's own store calls.
      expect((await ann.get(`/v1/conversations/${id}`)).status).toBe(200);
      const hook = { url: "http://127.0.0.1:9/hook" };

      const calls: Record<string, () => Promise<ApiResponse>> = {
        "GET /v1/conversations": () => ann.get("/v1/conversations"),
        "PUT member": () => admin.put(`/v1/conversations/${id}/members/carl`),
        "DELETE member": () => admin.del(`/v1/conversations/${id}/members/bob`),
        "GET /v1/webhooks": () => admin.get("/v1/webhooks"),
        "POST /v1/webhooks": () => admin.post("/v1/webhooks", hook),
      };
      const away = await relay.whileDatabaseAway(async () => {
        const answers: Record<string, unknown> = {};
        for (const [name, call] of Object.entries(calls)) {
          const res = await call();
          answers[name] = [res.status, res.json?.error?.code, res.headers.get("retry-after")];
        }
        return answers;
      });
      const refused = [503, "store_unavailable", "1"];
      expect(away).toEqual(Object.fromEntries(Object.keys(calls).map((name) => [name, refused])));

      // Back: each call works, and the refused ones changed nothing while the store was away.
      const threads = await ann.get("/v1/conversations");
      expect(threads.status).toBe(200);
      expect(threads.json.conversations.map((c: { id: string }) => c.id)).toContain(id);
      expect((await admin.get("/v1/webhooks")).json.webhooks).toEqual([]);
      expect((await admin.put(`/v1/conversations/${id}/members/carl`)).status).toBe(204);
      expect((await admin.del(`/v1/conversations/${id}/members/bob`)).status).toBe(204);
      const members = (await admin.get(`/v1/conversations/${id}`)).json.conversation.members;
      expect(members.map((m: { userId: string }) => m.userId).sort()).toEqual(["ann", "carl"]);
      expect((await admin.post("/v1/webhooks", hook)).status).toBe(201);
    }, 90_000);
  });
}
