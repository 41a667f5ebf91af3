/**
 * Hardening, the rest of the audit's findings: a removed member's long-poll, invalid UTF-8 over
 * HTTP, a keep-alive connection that trickles its second request. Each failed before the fix.
 */
import net from "node:net";
import { describe, expect, it } from "vitest";
import { history, sleep, uid, useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_HANDSHAKE_TIMEOUT_MS: "1500" } });

describe("the rest of the audit", () => {
  it("a removed member whose long-poll was waiting is not listed online afterwards", async () => {
    const [ann, bob] = [uid("ann"), uid("bob")];
    const conv = await w.conversation([ann, bob]);
    const bobApi = await w.as(bob);
    const poll = bobApi.get(`/v1/conversations/${conv}/messages?after=0&wait=20`);
    await sleep(300);
    const annApi = await w.as(ann);
    expect((await annApi.get(`/v1/conversations/${conv}/presence`)).json.online).toContain(bob);
    expect((await w.admin.del(`/v1/conversations/${conv}/members/${bob}`)).status).toBe(204);
    expect((await poll).status).toBe(403);
    // Before: listed for the 5 s presence grace period after removal.
    expect((await annApi.get(`/v1/conversations/${conv}/presence`)).json.online).not.toContain(bob);
  });

  it("an HTTP send whose body is not valid UTF-8 is 400, and nothing is stored", async () => {
    const user = uid("utf");
    const conv = await w.conversation([user]);
    const token = await w.token(user);
    const body = Buffer.concat([
      Buffer.from('{"clientMessageId":"bad-utf8","body":"a'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('"}'),
    ]);
    const res = await fetch(`${w.server.url}/v1/conversations/${conv}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/UTF-8/);
    expect(await history(await w.as(user), conv)).toEqual([]);
  });

  it("a keep-alive connection trickling its second request's headers is cut within the handshake timeout", async () => {
    const socket = net.connect(w.server.port, "127.0.0.1");
    socket.on("error", () => undefined);
    await new Promise((r) => socket.once("connect", r));
    let received = "";
    socket.on("data", (d) => {
      received += d.toString("latin1");
    });
    socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    for (let i = 0; i < 50 && !received.includes("\r\n\r\n"); i++) await sleep(20);
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
    const started = Date.now();
    const second = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ";
    for (let i = 0; i < 100 && !socket.destroyed; i++) {
      socket.write(second[i % second.length] as string);
      await sleep(100);
    }
    // Handshake timeout 1.5 s here, checked every second: cut within about 3 s (before: about 60 s).
    const closedAt = await Promise.race([closed, sleep(1_000).then(() => Number.NaN)]);
    expect(closedAt - started).toBeLessThan(6_000);
  });
});
