/**
 * `GET /metrics` on Deno (`npm run start:deno` runs the same relay through Deno's Node
 * compatibility): the server key is asked for, and a known workload moves the counters by
 * exactly what it did. test/contract/metrics.test.ts covers every metric on Node.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, mintToken, WsClient } from "../helpers/clients.ts";
import { parseExposition, sampleValue } from "../helpers/prometheus.ts";
import { type ServerHandle, startServer } from "../helpers/server.ts";
import { expectError, uid } from "../helpers/world.ts";

let server: ServerHandle;
beforeAll(async () => {
  server = await startServer({ runtime: "deno" });
}, 120_000);
afterAll(async () => {
  await server?.dispose();
});

async function scrape() {
  const res = await api(() => server.url, server.serverKey).get("/metrics");
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(res.text);
}

describe("GET /metrics on Deno", () => {
  it("asks for the server key", async () => {
    expectError(await api(() => server.url, null).get("/metrics"), 401, "unauthorized");
  });

  it("counts sends, fan-out and open sockets", async () => {
    const conv = uid("d");
    expect(
      (
        await api(() => server.url, server.serverKey).post("/v1/conversations", {
          id: conv,
          members: ["a", "b"],
        })
      ).status,
    ).toBe(201);
    const token = await mintToken(server.secret, "b");
    const socket = WsClient.connect(server.wsUrl, `/parties/conversation/${conv}`, { token });
    try {
      await socket.waitFor((f) => f.type === "synced", 15_000);
      // b's own arrival goes, one presence window later, only to the room's other connections
      // (b's greeting already names b), and there are none: only the three messages below are
      // fanned out between the two scrapes.
      const before = await scrape();
      expect(sampleValue(before, "parley_connections", { transport: "websocket" })).toBe(1);
      expect(sampleValue(before, "parley_rooms_loaded")).toBe(1);
      const a = api(() => server.url, await mintToken(server.secret, "a"));
      for (let i = 0; i < 3; i++)
        expect(
          (await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `k${i}`, body: `hi ${i}` }))
            .status,
        ).toBe(201);
      await socket.waitForMessages(3, 10_000);
      const after = await scrape();
      const delta = (name: string, labels: Record<string, string> = {}) =>
        sampleValue(after, name, labels, true) - sampleValue(before, name, labels, true);
      expect(delta("parley_messages_stored_total")).toBe(3);
      expect(delta("parley_group_commit_entries_sum")).toBe(3);
      expect(delta("parley_fanout_frames_total")).toBe(3);
      expect(
        delta("parley_http_requests_total", {
          method: "POST",
          route: "/v1/conversations/:id/messages",
          status: "201",
        }),
      ).toBe(3);
      // The process metrics prom-client can read under Deno.
      expect(after.types.get("process_cpu_seconds_total")).toBe("counter");
    } finally {
      await socket.close();
    }
  });
});
