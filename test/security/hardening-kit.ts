/**
 * Helpers of the hardening suites: raw HTTP clients that never read their answers, a large
 * conversation to read, and the relay's resident memory.
 */
import net from "node:net";
import { expect } from "vitest";
import { range, sleep, uid, type World } from "../helpers/world.ts";
import { rssOf } from "./kit.ts";

/** Opens a TCP connection, writes `request`, and never reads what comes back (a stalled client). */
export function neverReading(port: number, request: string | Buffer): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("connect timed out")), 5_000);
    const socket = net.connect(port, "127.0.0.1", () => {
      clearTimeout(timer);
      socket.write(request);
      resolve(socket);
    });
    socket.pause();
    socket.on("error", () => undefined);
  });
}

/** A GET request line with a bearer token. */
export const getRequest = (path: string, token: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`;

/**
 * A body of 16,000 bytes that JSON makes about 61 KB: 9,000 control characters are escaped as
 * `\u0001` (six bytes each). The worst case the limits allow, per message on the wire.
 */
export const escapingBody = () => "\u0001".repeat(9_000) + "x".repeat(7_000);

/**
 * A conversation of `count` messages with this body, posted with the server key as `member`
 * (the server key's posts are not charged to the member's byte budget).
 */
export async function largeConversation(w: World, member: string, count: number, body: string) {
  const conv = await w.conversation([member]);
  await Promise.all(
    range(0, 7).map(async (lane) => {
      for (let i = lane; i < count; i += 8) {
        const res = await w.admin.post(`/v1/conversations/${conv}/messages`, {
          senderId: member,
          clientMessageId: `seed-${i}`,
          body,
        });
        expect(res.status, res.text).toBe(201);
      }
    }),
  );
  return conv;
}

/** The relay's RSS in MiB (it must be running). */
export function relayRssMiB(w: World): number {
  const rss = rssOf(w.server.proc.pid);
  if (rss === null) throw new Error("cannot read the relay's RSS (/proc)");
  return rss / 1024 / 1024;
}

/** The highest RSS seen over `ms`, sampled every 100 ms. */
export async function peakRssMiB(w: World, ms: number): Promise<number> {
  let peak = relayRssMiB(w);
  for (let waited = 0; waited < ms; waited += 100) {
    await sleep(100);
    peak = Math.max(peak, relayRssMiB(w));
  }
  return peak;
}

/** Milliseconds a normal send by a fresh member of a fresh conversation takes now. */
export async function legitSendMs(w: World): Promise<number> {
  const user = uid("legit");
  const conv = await w.conversation([user]);
  const client = await w.as(user);
  const started = performance.now();
  const res = await client.post(`/v1/conversations/${conv}/messages`, {
    clientMessageId: uid("k"),
    body: "hi",
  });
  expect(res.status).toBe(201);
  return performance.now() - started;
}

export function destroyAll(sockets: net.Socket[]): void {
  for (const s of sockets) s.destroy();
}
