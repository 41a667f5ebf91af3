/**
 * Webhook building blocks: signatures interoperate with the `standardwebhooks` package both
 * ways, the URL policy refuses internal addresses, the Node transport refuses a name that
 * resolves inward when it connects, and Retry-After is read in both of its forms.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { newWebhookSecret, signedHeaders, verifyWebhook } from "../../party/host/webhooks/signature.ts";
import { retryAfterMs } from "../../party/host/webhooks/transport.ts";
import { checkWebhookUrl, isPrivateAddress } from "../../party/host/webhooks/url-policy.ts";
import { nodeWebhookTransport } from "../../party/node/webhook-transport.ts";

describe("signatures", () => {
  it("what the relay signs, standardwebhooks verifies; what standardwebhooks signs, verifyWebhook accepts", async () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: "message.created", data: { message: { body: "héllo 👋" } } });
    const now = Math.floor(Date.now() / 1000);
    const headers = await signedHeaders(secret, "msg_abc", now, body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    const theirs = new Webhook(secret).sign("msg_xyz", new Date(now * 1000), body);
    const parsed = await verifyWebhook(
      secret,
      { "webhook-id": "msg_xyz", "webhook-timestamp": String(now), "webhook-signature": theirs },
      body,
    );
    expect(parsed).toEqual(JSON.parse(body));
  });

  it("verifyWebhook refuses a changed body, another secret, an old timestamp, missing headers", async () => {
    const secret = newWebhookSecret();
    const now = Math.floor(Date.now() / 1000);
    const headers = await signedHeaders(secret, "msg_1", now, "{}");
    await expect(verifyWebhook(secret, headers, '{"x":1}')).rejects.toThrow(/no webhook-signature matches/);
    await expect(verifyWebhook(newWebhookSecret(), headers, "{}")).rejects.toThrow(
      /no webhook-signature matches/,
    );
    const old = await signedHeaders(secret, "msg_1", now - 600, "{}");
    await expect(verifyWebhook(secret, old, "{}")).rejects.toThrow(/too old/);
    await expect(verifyWebhook(secret, {}, "{}")).rejects.toThrow(/missing/);
    expect(await verifyWebhook(secret, new Headers(headers), "{}")).toEqual({});
  });
});

describe("URL policy", () => {
  it("private, loopback, link-local and reserved addresses are private; public ones are not", () => {
    for (const ip of [
      "127.0.0.1",
      "10.0.0.1",
      "172.16.5.4",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "0.0.0.0",
      "100.64.0.1",
      "::1",
      "fd00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "[::1]",
      "224.0.0.1",
    ])
      expect(isPrivateAddress(ip), ip).toBe(true);
    for (const ip of ["8.8.8.8", "172.32.0.1", "1.1.1.1", "2606:4700::1111", "93.184.216.34"])
      expect(isPrivateAddress(ip), ip).toBe(false);
  });

  it("http(s) only, no credentials; publicOnly refuses internal names and addresses", () => {
    expect(checkWebhookUrl("https://example.com/hook", true).hostname).toBe("example.com");
    expect(() => checkWebhookUrl("gopher://example.com", false)).toThrow(/only http and https/);
    expect(() => checkWebhookUrl("https://a:b@example.com", false)).toThrow(/credentials/);
    expect(() => checkWebhookUrl("http://localhost:3000", true)).toThrow(/private/);
    expect(() => checkWebhookUrl("http://api.internal/x", true)).toThrow(/private/);
    expect(checkWebhookUrl("http://localhost:3000", false).port).toBe("3000");
  });
});

describe("Node transport", () => {
  it("a public-only delivery to a name that resolves to loopback is refused when it connects; allowed otherwise", async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as AddressInfo;
    try {
      // The transport checks what a name resolves to (the URL policy's name check is not involved).
      const request = { url: `http://localhost:${port}/x`, headers: {}, body: "{}", timeoutMs: 2000 };
      await expect(nodeWebhookTransport({ ...request, publicOnly: true })).rejects.toThrow(
        /private addresses are refused/,
      );
      await expect(
        nodeWebhookTransport({ ...request, url: `http://127.0.0.1:${port}/x`, publicOnly: true }),
      ).rejects.toThrow(/private address/);
      expect(hits).toBe(0);
      expect((await nodeWebhookTransport({ ...request, publicOnly: false })).status).toBe(204);
      expect(hits).toBe(1);
    } finally {
      server.close();
    }
  });

  it("a hang ends at the timeout", async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as AddressInfo;
    try {
      await expect(
        nodeWebhookTransport({
          url: `http://127.0.0.1:${port}/`,
          headers: {},
          body: "{}",
          timeoutMs: 200,
          publicOnly: false,
        }),
      ).rejects.toThrow(/no answer within 200 ms/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("an abort stops a hanging delivery at once; one already aborted is not sent", async () => {
    let hits = 0;
    const stopping = new AbortController();
    // Stopped once the request has arrived and hangs (no answer ever comes).
    const server = createServer(() => {
      hits++;
      stopping.abort();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as AddressInfo;
    const request = {
      url: `http://127.0.0.1:${port}/`,
      headers: {},
      body: "{}",
      timeoutMs: 10_000,
      publicOnly: false,
    };
    try {
      const started = Date.now();
      await expect(nodeWebhookTransport({ ...request, signal: stopping.signal })).rejects.toThrow(/^stopped/);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(hits).toBe(1);
      await expect(nodeWebhookTransport({ ...request, signal: AbortSignal.abort() })).rejects.toThrow(
        /^stopped/,
      );
      expect(hits).toBe(1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe("Node transport, answers", () => {
  it("sends the headers and body as given; reads the status, Retry-After and (when asked) the body, up to a limit", async () => {
    const seen: Array<{ method?: string; path?: string; signature?: string; body: string }> = [];
    const server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => {
        body += chunk;
      });
      req.on("end", () => {
        seen.push({
          method: req.method,
          path: req.url,
          signature: req.headers["webhook-signature"] as string,
          body,
        });
        if (req.url === "/busy") res.writeHead(429, { "retry-after": "7" }).end();
        else if (req.url === "/long") res.writeHead(200).end("x".repeat(5000));
        else res.writeHead(200, { "content-type": "application/json" }).end('{"reject":{"message":"no"}}');
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    const request = {
      headers: { "webhook-signature": "v1,abc" },
      body: '{"é":1}',
      timeoutMs: 2000,
      publicOnly: false,
    };
    try {
      expect(await nodeWebhookTransport({ ...request, url: `${base}/busy` })).toEqual({
        status: 429,
        retryAfter: "7",
      });
      expect(
        await nodeWebhookTransport({ ...request, url: `${base}/hook?x=1`, readBodyBytes: 1000 }),
      ).toEqual({
        status: 200,
        retryAfter: null,
        body: '{"reject":{"message":"no"}}',
      });
      await expect(
        nodeWebhookTransport({ ...request, url: `${base}/long`, readBodyBytes: 1000 }),
      ).rejects.toThrow(/^the answer's body is larger than 1000 bytes$/);
      // Without readBodyBytes a long answer is drained, not refused.
      expect((await nodeWebhookTransport({ ...request, url: `${base}/long` })).status).toBe(200);
      expect(seen.map((s) => s.path)).toEqual(["/busy", "/hook?x=1", "/long", "/long"]);
      for (const s of seen) expect(s).toMatchObject({ method: "POST", signature: "v1,abc", body: '{"é":1}' });
    } finally {
      server.close();
    }
  });

  it("a port nobody listens on is 'could not deliver', with the system's code", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    await expect(
      nodeWebhookTransport({
        url: `http://127.0.0.1:${port}/`,
        headers: {},
        body: "{}",
        timeoutMs: 2000,
        publicOnly: false,
      }),
    ).rejects.toThrow(/^could not deliver: .*ECONNREFUSED/);
  });
});

it("Retry-After: seconds or an HTTP date, clamped; nonsense is ignored", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  expect(retryAfterMs("3", now, 60_000)).toBe(3000);
  expect(retryAfterMs("Tue, 01 Dec 2026 12:00:10 GMT", now, 60_000)).toBe(10_000);
  expect(retryAfterMs("99999", now, 60_000)).toBe(60_000);
  expect(retryAfterMs("soon", now, 60_000)).toBeUndefined();
  expect(retryAfterMs(null, now, 60_000)).toBeUndefined();
});
