/**
 * Hardening, memory: what one client can make the relay hold is bounded, whatever way it reads
 * (or does not): history answers, replays over WebSocket and SSE, answers to its own frames,
 * held long-polls. Each test reads the relay's RSS under the slow-client pattern and failed
 * against the relay before the fix.
 */
import type net from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { range, sleep, uid, useServer } from "../helpers/world.ts";
import {
  destroyAll,
  escapingBody,
  getRequest,
  largeConversation,
  legitSendMs,
  neverReading,
  peakRssMiB,
  relayRssMiB,
} from "./hardening-kit.ts";
import { rawSynced } from "./kit.ts";
import { encodeFrame, Op, RawWs } from "./raw-ws.ts";

const w = useServer({
  env: { PARLEY_SEND_RATE: "10000", PARLEY_SEND_BURST: "10000", PARLEY_MAX_CONNECTIONS_PER_USER: "30" },
});
const open: net.Socket[] = [];
afterEach(() => destroyAll(open.splice(0)));

/** One member and a conversation of 300 messages of 16 KB (about 18 MB as JSON), made once. */
let reader: string;
let conv: string;
beforeAll(async () => {
  reader = uid("reader");
  conv = await largeConversation(w, reader, 300, escapingBody());
});

/** A WebSocket upgrade request (the client then never reads the answer, nor anything after). */
function upgradeRequest(path: string): string {
  return [
    `GET ${path} HTTP/1.1`,
    "Host: 127.0.0.1",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    "",
    "",
  ].join("\r\n");
}

describe("memory bounded per client", () => {
  it("history requests whose client never reads: a bounded page each, a few per user (429 beyond)", async () => {
    // A page of 200 of these messages is about 12 MB of JSON.
    const token = await w.token(reader);
    const before = relayRssMiB(w);
    for (const _ of range(1, 40)) {
      open.push(
        await neverReading(w.server.port, getRequest(`/v1/conversations/${conv}/messages?limit=200`, token)),
      );
    }
    const peak = await peakRssMiB(w, 2_000);
    const sendMs = await legitSendMs(w);
    console.log(
      `never-reading history: relay RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB, a send took ${sendMs.toFixed(0)} ms`,
    );
    // Before: 40 × the whole answer (about 1.4 GB in the audit's run). Now each answer is at
    // most pageBytes (1 MiB), and at most maxReadsPerUser (8) are pinned at once.
    expect(peak - before, `RSS grew from ${before.toFixed(0)} to ${peak.toFixed(0)} MiB`).toBeLessThan(120);
    expect(sendMs).toBeLessThan(5_000);
    // The client is told to ask again: a page of 200 large messages is cut short, with hasMore.
    const page = await (await w.as(reader)).get(`/v1/conversations/${conv}/messages?after=0&limit=200`);
    expect(page.status).toBe(200);
    expect(page.json.messages.length).toBeLessThan(200);
    expect(page.json.hasMore).toBe(true);
  });

  it("held long-polls count against the user's connection cap", async () => {
    const user = uid("poller");
    const conv = await w.conversation([user]);
    const token = await w.token(user);
    // The cap is 30 here (PARLEY_MAX_CONNECTIONS_PER_USER): 30 long-polls are held, the 31st refused.
    for (const _ of range(1, 30)) {
      open.push(
        await neverReading(
          w.server.port,
          getRequest(`/v1/conversations/${conv}/messages?after=0&wait=30`, token),
        ),
      );
    }
    await sleep(500);
    const refused = await fetch(`${w.server.url}/v1/conversations/${conv}/messages?after=0&wait=30`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refused.status).toBe(429);
    destroyAll(open.splice(0));
    await sleep(500);
    const again = await fetch(`${w.server.url}/v1/conversations/${conv}/messages?after=0&wait=0`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(again.status).toBe(200);
  });
});

describe("replays to readers that never read", () => {
  // A relay of its own: RSS does not shrink when memory is freed, so an earlier test's peak
  // would hide this one's growth.
  const fresh = useServer({
    env: {
      PARLEY_BUFFER_SIZE: "20",
      PARLEY_MAX_CONNECTIONS_PER_USER: "30",
      PARLEY_SEND_RATE: "10000",
      PARLEY_SEND_BURST: "10000",
    },
  });
  let freshReader: string;
  let freshConv: string;
  beforeAll(async () => {
    freshReader = uid("resumer");
    freshConv = await largeConversation(fresh, freshReader, 300, escapingBody());
  });
  afterEach(() => destroyAll(open.splice(0)));

  it("WebSocket and SSE resumes from 0 that never read: each holds about half a buffer cap, not a page", async () => {
    const token = await fresh.token(freshReader);
    const before = relayRssMiB(fresh);
    for (const _ of range(1, 12)) {
      open.push(
        await neverReading(
          fresh.server.port,
          upgradeRequest(`/parties/conversation/${freshConv}?token=${token}&after=0`),
        ),
      );
      open.push(
        await neverReading(
          fresh.server.port,
          getRequest(`/v1/conversations/${freshConv}/events?after=0&token=${token}`, token),
        ),
      );
    }
    const peak = await peakRssMiB(fresh, 3_000);
    console.log(`never-reading resumes: relay RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB`);
    // Before: each queued a whole replay page (all 300, about 18 MB here) before looking at its
    // buffer.
    expect(peak - before, `RSS grew from ${before.toFixed(0)} to ${peak.toFixed(0)} MiB`).toBeLessThan(120);
    expect(await legitSendMs(fresh)).toBeLessThan(5_000);
  });
});

describe("a socket that uploads and never reads", () => {
  // A short heartbeat: the relay pings every second, and only a pong proves the client reads.
  const hb = useServer({ env: { PARLEY_HEARTBEAT_MS: "1000" } });

  it("is cut within two heartbeats although it keeps sending (acks of a known key)", async () => {
    const user = uid("uploader");
    const conv = await hb.conversation([user]);
    const ws = await RawWs.connect(
      hb.server.port,
      `/parties/conversation/${conv}?token=${await hb.token(user)}`,
    );
    await ws.waitFor((f) => f.type === "synced", 5_000, "synced");
    const send = JSON.stringify({ type: "send", clientMessageId: "big", body: "y".repeat(4 * 1024) });
    ws.send(Op.text, send);
    await ws.waitFor((f) => f.type === "ack", 5_000, "the first ack");
    ws.socket.pause(); // from now on it never reads (no pongs either)
    // Re-sends of a known key skip the send rate limit, and each is answered with an ack.
    const frame = encodeFrame(Op.text, Buffer.from(send));
    let closed = false;
    ws.socket.once("close", () => {
      closed = true;
    });
    const started = Date.now();
    for (let i = 0; i < 400 && !closed; i++) {
      ws.socket.write(frame);
      await sleep(25); // 40 frames/s: under the frame rate limit (50/s)
    }
    // Before: every inbound frame counted as a heartbeat, so it was never cut.
    expect(closed, "the uploading socket was cut").toBe(true);
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});

describe("a socket that pings and never reads", () => {
  // The relay answers control pings itself (autoPong is off, see the gateway's `socketPing`):
  // its pongs count toward the outbound cap like any frame, so a client that floods pings and
  // reads nothing is cut instead of having its pongs held without bound.
  const capped = useServer({ env: { PARLEY_SOCKET_BUFFER_BYTES: "65536", PARLEY_LOG: "warn" } });

  it("gets a pong with its ping's payload while it reads", async () => {
    const user = uid("pinger");
    const ws = await rawSynced(capped, user, await capped.conversation([user]));
    ws.send(Op.ping, Buffer.from("are-you-there"));
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && !ws.frames.some((f) => f.opcode === Op.pong)) await sleep(10);
    const pongs = ws.frames.filter((f) => f.opcode === Op.pong).map((f) => f.payload.toString());
    expect(pongs).toEqual(["are-you-there"]);
    ws.socket.destroy();
  });

  it("is cut once its unread pongs pass the outbound cap; the relay's memory stays bounded", async () => {
    const user = uid("pinger");
    const ws = await rawSynced(capped, user, await capped.conversation([user]));
    ws.socket.pause(); // from now on it reads nothing
    let closed = false;
    ws.socket.once("close", () => {
      closed = true;
    });
    const before = relayRssMiB(capped);
    const ping = encodeFrame(Op.ping, Buffer.alloc(125, 7));
    let sent = 0;
    const started = Date.now();
    // Bounded: at most 400,000 pings (50 MB) or 30 s, in batches that let the relay read.
    while (!closed && sent < 400_000 && Date.now() - started < 30_000) {
      for (let i = 0; i < 2_000; i++) ws.socket.write(ping);
      sent += 2_000;
      await sleep(5);
    }
    const peak = relayRssMiB(capped);
    console.log(
      `ping flood: ${closed ? "cut" : "not cut"} after ${sent} pings, relay RSS ${before.toFixed(0)} → ${peak.toFixed(0)} MiB`,
    );
    expect(closed, `the never-reading pinger was cut (${sent} pings sent)`).toBe(true);
    expect(peak - before).toBeLessThan(64);
  });
});
