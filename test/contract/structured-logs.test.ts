/**
 * Structured logs: a relay at PARLEY_LOG=debug, driven through every way a credential reaches
 * it (Authorization header, `?token=` on sockets, SSE and long-polls, the token endpoints, a
 * webhook endpoint's secret, bad tokens, an unknown app), writes one JSON object per line, with
 * the request id on request lines and the app and conversation on room lines, and none of the
 * credentials. Also: the request id is echoed, and an embedder's own logger (pino) gets the lines.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createRelay } from "../../index.ts";
import { api, mintToken, SseClient, unsignedToken, WsClient } from "../helpers/clients.ts";
import { startReceiver } from "../helpers/webhook-receiver.ts";
import { eventually, sleep, uid, useServer } from "../helpers/world.ts";
import { ACME, appsEnv } from "../security/kit.ts";

const w = useServer({ env: { ...appsEnv, PARLEY_LOG: "debug", PARLEY_WEBHOOK_RETRY_BASE_MS: "50" } });
const receiver = await startReceiver();
afterAll(() => receiver.close());

type Line = Record<string, unknown> & { level: string; time: string; msg: string };

/** Every line the relay wrote, each parsed as JSON (a line that is not JSON fails the test). */
function lines(): Line[] {
  return w.server
    .output()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as Line;
      } catch {
        throw new Error(`a log line is not JSON: ${l.slice(0, 200)}`);
      }
    });
}

describe("structured logs", () => {
  it("every auth path at debug: JSON lines with reqId, app and conversation, and no credential", async () => {
    const u = uid("u");
    const v = uid("v");
    const conv = await w.conversation([u, v]);
    const secrets: string[] = [w.server.secret, w.server.serverKey, ACME.secret, ACME.serverKey];
    const good = await w.token(u);
    const expired = await mintToken(w.server.secret, u, { expiresIn: -3600 });
    const foreign = await mintToken(ACME.secret, u, { app: "acme" });
    const unknownApp = await mintToken(w.server.secret, u, { app: "nope" });
    const forged = await mintToken("a-wrong-secret-0123456789abcdef0123456789", u);
    const unsigned = unsignedToken(u);
    const tokens = [good, expired, foreign, unknownApp, forged, unsigned];
    secrets.push(...tokens);

    // The token endpoints: minted by the server key, and the dev one.
    const minted = await w.admin.post("/v1/tokens", { userId: u, name: "U" });
    expect(minted.status).toBe(201);
    const dev = await api(w.server.url, null).get(`/v1/dev/token?user=${v}`);
    expect(dev.status).toBe(200);
    secrets.push(minted.json.token, dev.json.token);

    // A webhook endpoint with its secret (answered once), failing at first: a room line.
    receiver.reply = () => ({ status: 500 });
    const hook = await w.admin.post("/v1/webhooks", { url: receiver.url });
    expect(hook.status).toBe(201);
    receiver.secret = hook.json.webhook.secret;
    secrets.push(hook.json.webhook.secret);

    for (const t of [...tokens, minted.json.token]) {
      const q = encodeURIComponent(t);
      const s = w.track(WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, { token: t }));
      await Promise.race([s.opened.catch(() => undefined), s.closed]);
      await s.close();
      const inbox = w.track(WsClient.connect(w.server.wsUrl, `/parties/inbox/${u}`, { token: t }));
      await Promise.race([inbox.opened.catch(() => undefined), inbox.closed]);
      await inbox.close();
      await api(w.server.url, null).get(`/v1/conversations/${conv}/log?after=0&wait=0&token=${q}`);
      await api(w.server.url, null).get(`/v1/conversations/${conv}/messages?after=0&wait=1&token=${q}`);
      const sse = new SseClient(`${w.server.url}/v1/conversations/${conv}/events?token=${q}`);
      await sse.ready;
      sse.close();
      await api(w.server.url, t).post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: uid("k"),
        body: "x",
      });
      await api(w.server.url, t).get("/v1/conversations");
    }
    // Server keys: right, wrong, another app's; a body with a secret-looking field.
    await w.admin.get(`/v1/conversations/${conv}`);
    await api(w.server.url, `${w.server.serverKey}x`).get(`/v1/conversations/${conv}`);
    await api(w.server.url, ACME.serverKey).post("/v1/tokens", { userId: u, token: good });
    await eventually(async () => w.server.output().includes("failed: HTTP 500") || undefined, 10_000);
    await sleep(300);

    const out = w.server.output();
    for (const secret of secrets) {
      expect(typeof secret, `secret #${secrets.indexOf(secret)}`).toBe("string");
      expect(out.includes(secret), `a credential in the log: ${secret.slice(0, 8)}…`).toBe(false);
      const signature = secret.split(".")[2];
      if (signature) expect(out.includes(signature), "a token signature in the log").toBe(false);
    }
    expect(out).not.toMatch(/token=|authorization|bearer/i);

    const all = lines();
    for (const line of all) {
      expect(["debug", "info", "warn", "error"]).toContain(line.level);
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
      expect(typeof line.msg).toBe("string");
    }
    const requests = all.filter((l) => l.msg === "request");
    expect(requests.length).toBeGreaterThan(30);
    for (const r of requests) {
      expect(r.reqId).toMatch(/^[\w.:-]{1,64}$/);
      expect(typeof r.route).toBe("string");
      expect(String(r.route)).not.toContain("?");
      expect(typeof r.status).toBe("number");
      expect(typeof r.ms).toBe("number");
    }
    // A user's send: app, user and conversation on its request line.
    expect(
      requests.some(
        (r) =>
          r.route === "/v1/conversations/:id/messages" &&
          r.method === "POST" &&
          r.status === 201 &&
          r.app === "default" &&
          r.userId === u &&
          r.conversationId === conv,
      ),
    ).toBe(true);
    // A refused token: 401 with its code, no user.
    expect(
      requests.some((r) => r.status === 401 && r.code === "unauthorized" && r.conversationId === conv),
    ).toBe(true);
    // Sockets: opened and refused lines carry the request id; opened ones the room.
    const sockets = all.filter((l) => /^socket (opened|refused)$/.test(l.msg));
    expect(sockets.some((l) => l.msg === "socket refused")).toBe(true);
    for (const s of sockets) expect(typeof s.reqId).toBe("string");
    expect(
      sockets.some((l) => l.msg === "socket opened" && l.app === "default" && l.conversationId === conv),
    ).toBe(true);
    // The failed webhook delivery: a room line with the app and the conversation.
    expect(
      all.some(
        (l) =>
          l.level === "warn" && /webhook endpoint/.test(l.msg) && l.app === "default" && l.conversationId,
      ),
    ).toBe(true);
  });

  it("X-Request-Id: a sane one is echoed on HTTP answers and socket upgrades, another is replaced", async () => {
    const mine = `req-${uid("r")}`;
    const res = await fetch(`${w.server.url}/healthz`, { headers: { "X-Request-Id": mine } });
    expect(res.headers.get("x-request-id")).toBe(mine);
    const refused = await fetch(`${w.server.url}/v1/conversations`, {
      headers: { "X-Request-Id": "a b<script>" },
    });
    expect(refused.status).toBe(401);
    const fresh = refused.headers.get("x-request-id") ?? "";
    expect(fresh).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await fetch(`${w.server.url}/no-such-route`);
    expect(missing.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

    const u = uid("u");
    const conv = await w.conversation([u]);
    const s = w.track(
      WsClient.connect(
        w.server.wsUrl,
        `/parties/conversation/${conv}`,
        { token: await w.token(u) },
        { "X-Request-Id": mine },
      ),
    );
    const upgraded = new Promise<string | undefined>((resolve) =>
      s.ws.once("upgrade", (r) => resolve(r.headers["x-request-id"] as string | undefined)),
    );
    await s.opened;
    expect(await upgraded).toBe(mine);
    await s.close();
    // An event stream (built by the host, not by the route's context) and a JSON answer too.
    const stream = await fetch(`${w.server.url}/v1/conversations/${conv}/events?token=${await w.token(u)}`, {
      headers: { "X-Request-Id": "sse-1" },
    });
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(stream.headers.get("x-request-id")).toBe("sse-1");
    await stream.body?.cancel();
    const sent = await fetch(`${w.server.url}/v1/conversations/${conv}/messages`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await w.token(u)}`,
        "content-type": "application/json",
        "X-Request-Id": "send-1",
      },
      body: JSON.stringify({ clientMessageId: "rid-1", body: "hi" }),
    });
    expect(sent.status).toBe(201);
    expect(sent.headers.get("x-request-id")).toBe("send-1");
    await eventually(async () => lines().find((l) => l.reqId === fresh && l.status === 401), 5_000);
    // Each line is waited for itself: the server's output arrives through a pipe, and a line
    // seen does not mean an earlier-logged one on another path has been read yet.
    const mineLogged = () =>
      lines()
        .filter((l) => l.reqId === mine)
        .map((l) => l.msg);
    await eventually(
      async () => mineLogged().includes("request") && mineLogged().includes("socket opened"),
      5_000,
    ).catch(() => undefined);
    expect(mineLogged()).toEqual(expect.arrayContaining(["request", "socket opened"]));
  });

  it("a socket without X-Request-Id gets a new UUID on its 101, and its close line carries the same", async () => {
    const u = uid("u");
    const conv = await w.conversation([u]);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = w.track(
        WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, { token: await w.token(u) }),
      );
      const upgraded = new Promise<string>((resolve) =>
        s.ws.once("upgrade", (r) => resolve(String(r.headers["x-request-id"]))),
      );
      await s.waitFor((f) => f.type === "synced", 5000, "synced");
      ids.push(await upgraded);
      await s.close();
    }
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[0]).not.toBe(ids[1]);
    // The socket keeps its id for the lines of its whole life: opened, then closed (debug).
    for (const id of ids) {
      const mine = () => lines().filter((l) => l.reqId === id);
      await eventually(async () => mine().some((l) => l.msg === "socket closed"), 5_000).catch(
        () => undefined,
      );
      const closed = mine().find((l) => l.msg === "socket closed");
      expect(mine().map((l) => l.msg)).toEqual(expect.arrayContaining(["socket opened", "socket closed"]));
      expect(closed).toMatchObject({
        app: "default",
        userId: u,
        conversationId: conv,
        route: "/parties/conversation/:id",
      });
      expect(typeof closed?.ms).toBe("number");
    }
  });
});

describe("an embedder's logger", () => {
  it("a pino instance gets the relay's lines (request id, route, status) as JSON", async () => {
    const written: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        written.push(String(chunk));
        done();
      },
    });
    const serverKey = `sk_test_${uid("k")}-0123456789`;
    const dir = mkdtempSync(join(tmpdir(), "parley-logs-"));
    const relay = await createRelay({
      dbUrl: `file:${join(dir, "p.db")}`,
      secret: "an-embedders-secret-0123456789abcdef0123456789",
      serverKey,
      logger: pino({ level: "info" }, sink),
    });
    try {
      const res = await relay.fetch(
        new Request("http://relay.test/v1/conversations", {
          method: "POST",
          headers: {
            Authorization: `Bearer ${serverKey}`,
            "Content-Type": "application/json",
            "X-Request-Id": "emb-1",
          },
          body: JSON.stringify({ id: "c1", members: ["a"] }),
        }),
      );
      expect(res.status).toBe(201);
      expect(res.headers.get("x-request-id")).toBe("emb-1");
    } finally {
      await relay.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const parsed = written.map((l) => JSON.parse(l));
    expect(parsed).toContainEqual(
      expect.objectContaining({
        reqId: "emb-1",
        app: "default",
        route: "/v1/conversations",
        status: 201,
        msg: "request",
      }),
    );
    expect(written.join("")).not.toContain(serverKey);
  });
});
