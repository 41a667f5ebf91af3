/**
 * Closing the relay stops a webhook delivery in flight: an endpoint that never answers cannot
 * hold `close()` (or a SIGTERM) until its timeout. The delivery's cursor stays where it was, so
 * the event goes out again after the restart (webhooks-durability.test.ts covers that part).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { createRelay } from "../../party/node/relay.ts";
import { whsec } from "../helpers/webhook-receiver.ts";

const SERVER_KEY = "psk_webhooks_close_test_server_key";

it("close() aborts a delivery that hangs, well before the delivery's timeout", async () => {
  const arrived: IncomingMessage[] = [];
  let closedByRelay = 0;
  // Never answers: the request stays open until the relay drops it.
  const endpoint = createServer((req) => {
    arrived.push(req);
    req.socket.on("close", () => closedByRelay++);
  });
  await new Promise<void>((r) => endpoint.listen(0, "127.0.0.1", () => r()));
  const { port } = endpoint.address() as AddressInfo;
  const dir = await mkdtemp(join(tmpdir(), "parley-webhooks-close-"));
  try {
    const relay = await createRelay({
      dbUrl: `file:${join(dir, "p.db")}`,
      secret: "webhooks-close-test-secret-webhooks-close",
      serverKey: SERVER_KEY,
      logLevel: "silent",
      webhook: { url: `http://127.0.0.1:${port}/hook`, secret: whsec() },
      limits: { webhookTimeoutMs: 60_000 },
    });
    const created = await relay.fetch(
      new Request("http://relay/v1/conversations", {
        method: "POST",
        headers: { authorization: `Bearer ${SERVER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ id: "c1", members: ["ann"] }),
      }),
    );
    expect(created.status).toBe(201);
    // The first event (conversation.created) reaches the endpoint, which keeps it hanging.
    for (let i = 0; i < 200 && arrived.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(arrived.length).toBe(1);
    const started = Date.now();
    await relay.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    for (let i = 0; i < 200 && closedByRelay === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(closedByRelay).toBe(1);
  } finally {
    endpoint.closeAllConnections();
    endpoint.close();
    await rm(dir, { recursive: true, force: true });
  }
});
