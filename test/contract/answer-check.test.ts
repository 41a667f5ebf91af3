/**
 * The validating proxy the contract suite's HTTP goes through (test/helpers/answer-check-proxy.ts)
 * does judge, passes everything on unchanged (event streams, WebSocket upgrades, a relay that is
 * down), and this file's own server answers through it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AnswerCheckProxy, startAnswerCheckProxy } from "../helpers/answer-check-proxy.ts";
import { api, SseClient, WsClient } from "../helpers/clients.ts";
import { send, uid, useServer } from "../helpers/world.ts";

const w = useServer();
let document: { components: { schemas: Record<string, { required?: string[]; properties: object }> } };
let proxy: AnswerCheckProxy;

beforeAll(async () => {
  document = await (await fetch(`${w.server.relayUrl}/v1/openapi.json`)).json();
  proxy = await startAnswerCheckProxy(document, () => w.server.port);
});
afterAll(() => proxy?.close());

describe("the contract suite's validating proxy", () => {
  it("this file's server is behind it: url is the proxy's, port and wsUrl the relay's", () => {
    expect(w.server.url).not.toBe(w.server.relayUrl);
    expect(w.server.wsUrl).toBe(`ws://127.0.0.1:${w.server.port}`);
  });

  it("judges answers against the document and records what it does not allow", async () => {
    const ann = uid("ann");
    const conv = await w.conversation([ann]);
    const asAnn = api(proxy.url, await w.token(ann));
    const before = proxy.judged;
    const sent = await send(asAnn, conv, "k1", "hello");
    expect(sent.body).toBe("hello");
    expect((await asAnn.get(`/v1/conversations/${conv}/messages`)).status).toBe(200);
    expect((await asAnn.get(`/v1/conversations/nope-${conv}/messages`)).status).toBe(404);
    expect(proxy.judged - before).toBe(3);
    expect(proxy.takeViolations()).toEqual([]);

    // The same relay behind a document whose Message must carry a field it never has.
    const strict = JSON.parse(JSON.stringify(document));
    strict.components.schemas.Message.required = [
      ...(strict.components.schemas.Message.required ?? []),
      "mood",
    ];
    const strictProxy = await startAnswerCheckProxy(strict, () => w.server.port);
    try {
      const res = await api(strictProxy.url, await w.token(ann)).get(`/v1/conversations/${conv}/messages`);
      // The answer is passed on as the relay gave it ...
      expect(res.status).toBe(200);
      expect(res.json.messages[0].body).toBe("hello");
      // ... and the violation is recorded against the request.
      const violations = strictProxy.takeViolations();
      expect(violations).toHaveLength(1);
      expect(violations[0]?.request).toBe(`GET /v1/conversations/${conv}/messages`);
      expect(violations[0]?.problems.join("\n")).toMatch(/mood/);
    } finally {
      await strictProxy.close();
    }
  });

  it("streams events as they happen, and carries WebSocket upgrades", async () => {
    const ann = uid("ann");
    const conv = await w.conversation([ann]);
    const token = await w.token(ann);
    const sse = new SseClient(`${proxy.url}/v1/conversations/${conv}/events?token=${token}`);
    await sse.ready;
    expect(sse.status).toBe(200);
    const ws = w.track(
      WsClient.connect(proxy.url.replace("http", "ws"), `/parties/conversation/${conv}`, { token }),
    );
    await ws.waitFor((f) => f.type === "synced", 5000, "synced through the proxy");
    await send(api(proxy.url, token), conv, "k2", "live");
    await ws.waitFor(
      (f) => f.type === "message" && f.message.body === "live",
      5000,
      "the message on the socket",
    );
    // The stream delivers before it ends: the proxy does not wait for the end of an endless body.
    await sse.waitFor(
      (e) => e.data.type === "message" && e.data.message.body === "live",
      5000,
      "the message on SSE",
    );
    await sse.close();
    expect(proxy.takeViolations()).toEqual([]);
  });

  it("a relay that is down is a failed connection, not an answer", async () => {
    const down = await startAnswerCheckProxy(document, () => 1);
    try {
      await expect(fetch(`${down.url}/healthz`)).rejects.toThrow();
      expect(down.judged).toBe(0);
    } finally {
      await down.close();
    }
  });
});
