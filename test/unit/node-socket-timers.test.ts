/**
 * The relay's own server (`relay.listen`) puts its write timeout on each HTTP request's
 * connection, not on every connection: `server.setTimeout` gave every socket a timer object,
 * and an upgraded WebSocket kept it for its whole life (ws stops the timer but the socket holds
 * it), ~120 bytes per idle socket (issue 17). An HTTP request still gets the timeout; an idle
 * WebSocket has none, and still hears its frames and closes as before.
 */
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRelay, type Relay } from "../../party/node/relay.ts";
import { mintToken, WsClient } from "../helpers/clients.ts";

const SECRET = "socket-timers-test-secret-socket-timers-test";
const SERVER_KEY = "psk_socket_timers_test_server_key";

let dir: string;
let relay: Relay;
let server: Server;
let base: string;
const requestTimeouts: Array<number | undefined> = [];
const upgraded: Socket[] = [];

/** Node's `socket.timeout`: the ms of its stream timeout, undefined when none was ever set. */
const timeoutOf = (socket: Socket) => (socket as Socket & { timeout?: number }).timeout;

/**
 * The timer object a socket holds (Node keeps it under its internal `timeout` symbol, null
 * until a timeout is set): what costs the memory, whether or not the timer still runs.
 */
function timerObjectOf(socket: Socket): unknown {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === "timeout");
  if (key === undefined) throw new Error("this Node keeps a socket's timer elsewhere: update the test");
  return (socket as unknown as Record<symbol, unknown>)[key];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-timers-"));
  relay = await createRelay({
    dbUrl: `file:${join(dir, "p.db")}`,
    secret: SECRET,
    serverKey: SERVER_KEY,
    logLevel: "silent",
  });
  const listening = await relay.listen(0, "127.0.0.1");
  server = listening.server;
  base = listening.url;
  // Heard after the relay's own listeners (it prepends its timeout to `request`).
  server.on("request", (req: IncomingMessage) => requestTimeouts.push(timeoutOf(req.socket)));
  server.on("upgrade", (_req: IncomingMessage, socket: Socket) => upgraded.push(socket));
});
afterAll(async () => {
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the write timeout on the relay's own server", () => {
  it("is set on an HTTP request's connection", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    await res.text();
    expect(requestTimeouts.length).toBeGreaterThan(0);
    // At least 15 s (see relay.ts, idleTimeoutMs), and the same for every request.
    for (const ms of requestTimeouts) expect(ms).toBeGreaterThanOrEqual(15_000);
    expect(requestTimeouts.length).toBe(1);
  });

  it("is not on an upgraded WebSocket, which still hears its frames and closes as before", async () => {
    const created = await fetch(`${base}/v1/conversations`, {
      method: "POST",
      headers: { authorization: `Bearer ${SERVER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "t1", members: ["ann"] }),
    });
    expect(created.status).toBe(201);
    const ws = new WsClient(
      `${base.replace("http", "ws")}/parties/conversation/t1?token=${await mintToken(SECRET, "ann")}`,
    );
    await ws.opened;
    await ws.waitFor((f) => f.type === "synced");
    expect(upgraded).toHaveLength(1);
    const socket = upgraded[0] as Socket;
    // ws stops any timer on the socket it takes (setTimeout(0)); the object must never exist.
    expect(timerObjectOf(socket)).toBeNull();
    ws.send({ type: "send", clientMessageId: "k1", body: "hi" });
    const ack = await ws.waitFor((f) => f.type === "ack");
    expect(ack.message.seq).toBe(1);
    ws.send({ type: "ping" });
    await ws.waitFor((f) => f.type === "pong");
    const closed = await ws.close();
    expect(closed.code).toBe(1000);
  });
});
