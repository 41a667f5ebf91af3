/**
 * Parley mounted in a host's own Node server, as the README shows: the host routes requests,
 * `relay.attach(server)` adds the socket upgrades and the handshake timeout. Pages the host
 * serves itself (same host and port) may call the API; `/healthz` reports a closed relay.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRelay, type Relay } from "../../party/node/relay.ts";
import { mintToken, WsClient } from "../helpers/clients.ts";

const SECRET = "embedding-test-secret-embedding-test-secret";
const SERVER_KEY = "psk_embedding_test_server_key";
const HANDSHAKE_MS = 400;

let dir: string;
let relay: Relay;
let server: Server;
let base: string;
const sockets: WsClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-embed-"));
  relay = await createRelay({
    dbUrl: `file:${join(dir, "p.db")}`,
    secret: SECRET,
    serverKey: SERVER_KEY,
    production: true,
    logLevel: "silent",
    limits: { handshakeTimeoutMs: HANDSHAKE_MS },
  });
  const parleyPaths = /^\/(v1\/|healthz)/;
  server = createServer((req, res) => {
    if (parleyPaths.test(req.url ?? "")) return relay.requestListener(req, res);
    res.end("the host's own page");
  });
  relay.attach(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await relay?.close();
  await new Promise((r) => server?.close(r));
  await rm(dir, { recursive: true, force: true });
});

async function post(path: string, token: string, body: unknown, origin?: string) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...(origin ? { origin } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("mounted in a host server", () => {
  it("serves the host's routes and Parley's; a page of the host's own origin may send and connect", async () => {
    expect(await (await fetch(`${base}/dashboard`)).text()).toBe("the host's own page");
    expect((await post("/v1/conversations", SERVER_KEY, { id: "e1", members: ["ann", "bob"] })).status).toBe(
      201,
    );
    const token = await mintToken(SECRET, "ann");
    const own = await post(
      "/v1/conversations/e1/messages",
      token,
      { clientMessageId: "k1", body: "hi" },
      base,
    );
    expect(own.status).toBe(201);
    const foreign = await post(
      "/v1/conversations/e1/messages",
      token,
      { clientMessageId: "k2", body: "no" },
      "https://evil.example.net",
    );
    expect(foreign.status).toBe(403);

    const ws = WsClient.connect(
      base.replace("http", "ws"),
      "/parties/conversation/e1",
      { token, after: 0 },
      {
        origin: base,
      },
    );
    sockets.push(ws);
    await ws.waitFor((f) => f.type === "synced", 5000);
    expect(ws.ofType("message").map((f) => f.message.body)).toEqual(["hi"]);
  });

  it("attach() brings the handshake timeout: a connection that never sends its headers is dropped", async () => {
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, "127.0.0.1");
    const openedAt = Date.now();
    socket.write("GET /v1/conversations HTTP/1.1\r\nHost: x\r\n"); // never finishes its headers
    const closedAfter = await new Promise<number>((resolve) => {
      const guard = setTimeout(() => resolve(Number.POSITIVE_INFINITY), 10 * HANDSHAKE_MS);
      socket.on("close", () => {
        clearTimeout(guard);
        resolve(Date.now() - openedAt);
      });
      socket.on("error", () => {});
    });
    socket.destroy();
    expect(closedAfter).toBeGreaterThanOrEqual(HANDSHAKE_MS - 50);
    expect(closedAfter).toBeLessThan(5 * HANDSHAKE_MS);
  });

  it("/healthz answers 503 once the relay is closing", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await relay.close();
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("shutting_down");
    // The answer ends its connection: a retry opens a new one (to a relay that serves).
    expect(res.headers.get("connection")).toBe("close");
  });
});
