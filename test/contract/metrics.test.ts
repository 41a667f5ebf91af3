/**
 * `GET /metrics` of a real relay process: who may scrape it, and that a known workload moves
 * each counter by exactly what it did (sends over HTTP and a socket, changes, refusals by the
 * send rate, the connection cap and a socket's frame budget, 4008 and 4009 closes, live
 * fan-out) while the gauges show the connections that are open. The text is parsed strictly
 * (test/helpers/prometheus.ts), as a Prometheus server would read it.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../api/app.ts";
import type { ApiDeps } from "../../api/context.ts";
import { defaultLimits } from "../../party/core/limits.ts";
import { Authenticator } from "../../party/host/auth.ts";
import { ConfigError, optionsFromEnv } from "../../party/node/config.ts";
import { api, type Frame, mintToken, presenceViews, SseClient, WsClient } from "../helpers/clients.ts";
import { type Exposition, parseExposition, sampleValue } from "../helpers/prometheus.ts";
import { type ServerHandle, startServer } from "../helpers/server.ts";
import { startReceiver } from "../helpers/webhook-receiver.ts";
import { eventually, expectError, sleep, uid } from "../helpers/world.ts";

const OTHER_KEY = `sk_other_${randomBytes(16).toString("hex")}`;
const OTHER_APP = { id: "other", secret: randomBytes(32).toString("hex"), serverKey: OTHER_KEY };

let server: ServerHandle;
const sockets: WsClient[] = [];
const streams: SseClient[] = [];

beforeAll(async () => {
  server = await startServer({
    env: {
      PARLEY_APPS: JSON.stringify([OTHER_APP]),
      // Low enough to refuse a burst of sends cheaply, high enough for the known workload.
      PARLEY_SEND_RATE: "1",
      PARLEY_SEND_BURST: "12",
      PARLEY_FRAME_RATE: "1",
      PARLEY_FRAME_BURST: "10",
      PARLEY_MAX_CONNECTIONS_PER_USER: "3",
      PARLEY_PRESENCE_GRACE_MS: "100",
    },
  });
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close().catch(() => undefined)));
  await Promise.all(streams.map((s) => s.close()));
  await server?.dispose();
});

const admin = () => api(() => server.url, server.serverKey);
const token = (user: string) => mintToken(server.secret, user);
const as = async (user: string) => api(() => server.url, await token(user));

async function scrape(credential: string | null = server.serverKey): Promise<Exposition> {
  const res = await api(() => server.url, credential).get("/metrics");
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(res.text);
}

async function conversation(members: string[]): Promise<string> {
  const id = uid("m");
  const res = await admin().post("/v1/conversations", { id, members });
  expect(res.status, res.text).toBe(201);
  return id;
}

async function socket(user: string, path: string, query: Record<string, string> = {}): Promise<WsClient> {
  const client = WsClient.connect(server.wsUrl, path, { token: await token(user), ...query });
  sockets.push(client);
  await client.opened;
  return client;
}

/** Frames that only live fan-out writes (greetings, acks, pongs and errors are answers to one connection). */
const FANNED_OUT = new Set(["message", "change", "presence", "typing", "read"]);
const fannedOut = (frames: readonly Frame[]) => frames.filter((f) => FANNED_OUT.has(f.type));
const bytesOf = (frames: readonly Frame[]) =>
  frames.reduce((sum, f) => sum + Buffer.byteLength(JSON.stringify(f)), 0);

const requests = (m: Exposition, method: string, route: string, status: number) =>
  sampleValue(m, "parley_http_requests_total", { method, route, status: String(status) }, true);

describe("GET /metrics: who may scrape", () => {
  it("answers 401 without a credential, 403 to a user token, 200 to any configured app's server key", async () => {
    expectError(await api(() => server.url, null).get("/metrics"), 401, "unauthorized");
    expectError(await api(() => server.url, "sk_wrong").get("/metrics"), 401, "unauthorized");
    expectError(await (await as("someone")).get("/metrics"), 403, "forbidden");
    await scrape(server.serverKey);
    await scrape(OTHER_KEY);
  });

  it("labels no series with a secret, a user or a conversation", async () => {
    const conv = await conversation(["label-a"]);
    const res = await api(() => server.url, server.serverKey).get("/metrics");
    for (const secret of [server.serverKey, OTHER_KEY, server.secret, OTHER_APP.secret, conv, "label-a"])
      expect(res.text).not.toContain(secret);
    // Routes are patterns, never raw paths.
    expect(res.text).toContain('route="/v1/conversations"');
    const unknown = await admin().get(`/no/such/${uid("path")}`);
    expect(unknown.status).toBe(404);
    const after = await scrape();
    expect(after.samples.some((s) => s.labels.route?.startsWith("/no/"))).toBe(false);
    expect(requests(after, "GET", "unmatched", 404)).toBeGreaterThanOrEqual(1);
  });

  it("has the process's own metrics (event-loop lag)", async () => {
    const m = await scrape();
    expect(m.types.get("nodejs_eventloop_lag_seconds")).toBe("gauge");
    expect(m.types.get("process_cpu_seconds_total")).toBe("counter");
  });
});

describe("GET /metrics: a known workload", () => {
  it("counts sends, changes, refusals, closes and fan-out exactly, and shows open connections", async () => {
    // ---- before the first scrape: connections, a 4009, a 4008, a refused connection ----------
    const room = await conversation(["alice", "bob", "carol"]);

    // 4009: a newer socket of the same client instance replaces the older one (another room).
    const replacedRoom = await conversation(["dave"]);
    const first = await socket("dave", `/parties/conversation/${replacedRoom}`, { _pk: "dave-1" });
    await first.waitFor((f) => f.type === "synced");
    const second = await socket("dave", `/parties/conversation/${replacedRoom}`, { _pk: "dave-1" });
    expect((await first.closed).code).toBe(4009);
    await second.waitFor((f) => f.type === "synced");
    await second.close();

    // 4008: a socket over its frame budget (PARLEY_FRAME_BURST=10) is closed (a third room).
    const floodRoom = await conversation(["erin"]);
    const flooder = await socket("erin", `/parties/conversation/${floodRoom}`);
    await flooder.waitFor((f) => f.type === "synced");
    for (let i = 0; i < 30; i++) flooder.send({ type: "ping" });
    expect((await flooder.closed).code).toBe(4008);

    // The connections the gauges must show: alice's conversation and inbox sockets, bob's
    // socket, SSE stream and held long-poll (his third connection: the cap is 3).
    const aliceSocket = await socket("alice", `/parties/conversation/${room}`);
    const aliceInbox = await socket("alice", "/parties/inbox/alice");
    const bobSocket = await socket("bob", `/parties/conversation/${room}`);
    const bobToken = await token("bob");
    const bobStream = new SseClient(`${server.url}/v1/conversations/${room}/events?token=${bobToken}`);
    streams.push(bobStream);
    await bobStream.ready;
    expect(bobStream.status).toBe(200);
    const held = fetch(`${server.url}/v1/conversations/${room}/messages?after=0&wait=20&token=${bobToken}`, {
      signal: AbortSignal.timeout(25_000),
    });
    // Everyone is synced and has heard that alice and bob are online: no presence change is due.
    // (A full list, then deltas: the set each client holds is the fold of its presence frames.)
    const bothOnline = (frames: readonly Frame[]) => {
      const online = presenceViews(frames).at(-1) ?? [];
      return online.includes("alice") && online.includes("bob");
    };
    await eventually(
      async () =>
        bothOnline(aliceSocket.frames) &&
        bothOnline(bobSocket.frames) &&
        bothOnline(bobStream.events.map((e) => e.data)),
      10_000,
    );

    const before = await eventually(async () => {
      const m = await scrape();
      const open = (transport: string) => sampleValue(m, "parley_connections", { transport });
      return open("websocket") === 3 && open("sse") === 1 && open("long_poll") === 1 && m;
    }, 10_000);
    // Bob's fourth connection is refused (429), and counted.
    const refusedStream = await fetch(`${server.url}/v1/conversations/${room}/events?token=${bobToken}`);
    expect(refusedStream.status).toBe(429);
    await refusedStream.body?.cancel();

    const marks = {
      alice: aliceSocket.frames.length,
      bob: bobSocket.frames.length,
      stream: bobStream.events.length,
    };
    expect(sampleValue(before, "parley_rooms_loaded")).toBe(3);
    expect(sampleValue(before, "parley_inboxes_loaded")).toBe(1);
    expect(sampleValue(before, "parley_closes_total", { code: "4009", transport: "websocket" })).toBe(1);
    expect(sampleValue(before, "parley_closes_total", { code: "4008", transport: "websocket" })).toBe(1);
    expect(sampleValue(before, "parley_rate_limited_total", { limit: "socket_frames" })).toBe(1);
    expect(aliceInbox.isOpen).toBe(true);

    // ---- the workload: 5 sends over HTTP and 3 over a socket (alice), 2 changes, carol's burst --
    const alice = await as("alice");
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await alice.post(`/v1/conversations/${room}/messages`, {
        clientMessageId: `h${i}`,
        body: `http ${i}`,
      });
      expect(res.status, res.text).toBe(201);
      seqs.push(res.json.message.seq);
    }
    // A retried key is answered 200 and stores nothing.
    expect(
      (await alice.post(`/v1/conversations/${room}/messages`, { clientMessageId: "h0", body: "http 0" }))
        .status,
    ).toBe(200);
    for (let i = 0; i < 3; i++)
      // Not ASCII: the bytes counted are UTF-8 bytes, not characters.
      aliceSocket.send({ type: "send", clientMessageId: `s${i}`, body: `socket ${i} — café ☕` });
    await aliceSocket.until(() => aliceSocket.ofType("ack").length >= 3 || undefined, 10_000, "3 acks");
    const edit = await alice.request("PATCH", `/v1/conversations/${room}/messages/${seqs[0]}`, {
      body: "edited",
    });
    expect(edit.status, edit.text).toBe(200);
    const react = await (await as("bob")).put(`/v1/conversations/${room}/messages/${seqs[1]}/reactions/ok`);
    expect(react.status, react.text).toBe(200);
    // Carol sends past her burst (12, refilled at 1/s) until two sends are refused with 429
    // (bounded: however slow the machine, 60 sends outrun a refill of one a second).
    const carol = await as("carol");
    let carolStored = 0;
    let carolRefused = 0;
    for (let i = 0; i < 60 && carolRefused < 2; i++) {
      const res = await carol.post(`/v1/conversations/${room}/messages`, {
        clientMessageId: `c${i}`,
        body: `carol ${i}`,
      });
      if (res.status === 201) carolStored++;
      else if (res.status === 429) carolRefused++;
      else throw new Error(`carol's send: ${res.status} ${res.text}`);
    }
    expect(carolRefused).toBe(2);
    const held2 = await held;
    expect(held2.status).toBe(200);

    const messages = 5 + 3 + carolStored;
    const entries = messages + 2;
    // Every live connection has every entry before the second scrape.
    const entriesOf = (frames: readonly Frame[]) =>
      frames.filter((f) => f.type === "message" || f.type === "change").length;
    await aliceSocket.until(
      () => entriesOf(aliceSocket.frames.slice(marks.alice)) >= entries || undefined,
      10_000,
      "entries",
    );
    await bobSocket.until(
      () => entriesOf(bobSocket.frames.slice(marks.bob)) >= entries || undefined,
      10_000,
      "entries",
    );
    await eventually(
      async () => entriesOf(bobStream.events.slice(marks.stream).map((e) => e.data)) >= entries,
      10_000,
    );
    await sleep(100); // nothing else is due; a stray frame would show up in the counts below

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(after, name, labels, true) - sampleValue(before, name, labels, true);

    expect(delta("parley_messages_stored_total")).toBe(messages);
    expect(delta("parley_changes_stored_total")).toBe(2);
    expect(delta("parley_group_commit_entries_sum")).toBe(entries);
    const commits = delta("parley_group_commit_entries_count");
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(entries);
    expect(delta("parley_group_commit_latency_seconds_count")).toBe(commits);
    expect(delta("parley_commit_write_seconds_count")).toBe(commits);
    expect(delta("parley_commit_write_seconds_sum")).toBeGreaterThan(0);

    expect(delta("parley_rate_limited_total", { limit: "send_rate" })).toBe(carolRefused);
    expect(delta("parley_rate_limited_total", { limit: "connections" })).toBe(1);
    expect(delta("parley_rate_limited_total", { limit: "user_bytes" })).toBe(0);
    expect(delta("parley_rate_limited_total", { limit: "reads" })).toBe(0);

    const route = "/v1/conversations/:id/messages";
    expect(delta("parley_http_requests_total", { method: "POST", route, status: "201" })).toBe(
      5 + carolStored,
    );
    expect(delta("parley_http_requests_total", { method: "POST", route, status: "200" })).toBe(1);
    expect(delta("parley_http_requests_total", { method: "POST", route, status: "429" })).toBe(carolRefused);
    expect(
      delta("parley_http_requests_total", { method: "PATCH", route: `${route}/:seq`, status: "200" }),
    ).toBe(1);
    expect(
      delta("parley_http_requests_total", {
        method: "GET",
        route: "/v1/conversations/:id/events",
        status: "429",
      }),
    ).toBe(1);
    expect(delta("parley_http_requests_total", { method: "GET", route, status: "200" })).toBe(1);

    // Live fan-out: exactly the frames the three live connections received since the first scrape.
    const received = [
      ...fannedOut(aliceSocket.frames.slice(marks.alice)),
      ...fannedOut(bobSocket.frames.slice(marks.bob)),
      ...fannedOut(bobStream.events.slice(marks.stream).map((e) => e.data)),
    ];
    expect(received.length).toBeGreaterThanOrEqual(3 * entries);
    expect(delta("parley_fanout_frames_total")).toBe(received.length);
    expect(delta("parley_fanout_bytes_total")).toBe(bytesOf(received));

    // The long-poll was answered; the other connections are still open.
    expect(sampleValue(after, "parley_connections", { transport: "long_poll" })).toBe(0);
    expect(sampleValue(after, "parley_connections", { transport: "websocket" })).toBe(3);
    expect(sampleValue(after, "parley_connections", { transport: "sse" })).toBe(1);
  });
});

describe("GET /metrics: a client that hangs up", () => {
  it("is not a close by the relay: an SSE stream the client ends counts in no close code", async () => {
    const room = await conversation(["dana"]);
    const closes = (m: Exposition) =>
      m.samples
        .filter((s) => s.name === "parley_closes_total" && s.labels.transport === "sse")
        .reduce((sum, s) => sum + s.value, 0);
    const open = (m: Exposition) => sampleValue(m, "parley_connections", { transport: "sse" }, true);
    const before = await scrape();
    const stream = new SseClient(
      `${server.url}/v1/conversations/${room}/events?token=${await token("dana")}`,
    );
    streams.push(stream);
    await stream.ready;
    expect(stream.status).toBe(200);
    await eventually(async () => open(await scrape()) === open(before) + 1, 10_000);
    await stream.close();
    const after = await eventually(async () => {
      const m = await scrape();
      return open(m) === open(before) && m;
    }, 10_000);
    expect(closes(after)).toBe(closes(before));
  });
});

describe("GET /metrics: webhook delivery", () => {
  it("counts attempts by outcome, retries and lag, and shows no lane left", async () => {
    const relay = await startServer({
      env: { PARLEY_WEBHOOK_RETRY_BASE_MS: "50", PARLEY_WEBHOOK_RETRY_MAX_MS: "200" },
    });
    const receiver = await startReceiver();
    try {
      // Every event fails once (500), then is accepted: one retry each.
      receiver.reply = (_request, attempt) => (attempt === 1 ? { status: 500 } : { status: 204 });
      const key = api(() => relay.url, relay.serverKey);
      const created = await key.post("/v1/webhooks", { url: `${receiver.url}/hooks` });
      expect(created.status, created.text).toBe(201);
      receiver.secret = created.json.webhook.secret;
      const conv = uid("wh");
      expect((await key.post("/v1/conversations", { id: conv, members: ["wa"] })).status).toBe(201);
      const wa = api(() => relay.url, await mintToken(relay.secret, "wa"));
      for (let i = 0; i < 3; i++)
        expect(
          (await wa.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `w${i}`, body: "x" }))
            .status,
        ).toBe(201);
      // conversation.created and three message.created, each delivered on its second attempt.
      const scrapeOf = async () => {
        const res = await key.get("/metrics");
        expect(res.status).toBe(200);
        return parseExposition(res.text);
      };
      const m = await eventually(async () => {
        const now = await scrapeOf();
        return sampleValue(now, "parley_webhook_deliveries_total", { outcome: "delivered" }) === 4 && now;
      }, 15_000);
      expect(receiver.accepted.length).toBe(4);
      expect(receiver.forged).toEqual([]);
      expect(sampleValue(m, "parley_webhook_deliveries_total", { outcome: "failed" })).toBe(
        receiver.requests.length - receiver.accepted.length,
      );
      expect(receiver.requests.length - receiver.accepted.length).toBe(4);
      // One retry per failed attempt; a lane whose read raced a commit retries too (rare), so at least.
      expect(sampleValue(m, "parley_webhook_retries_total")).toBeGreaterThanOrEqual(4);
      expect(sampleValue(m, "parley_webhook_paused_total")).toBe(0);
      expect(sampleValue(m, "parley_webhook_lag_seconds_count")).toBe(4);
      expect(sampleValue(m, "parley_webhook_lag_seconds_sum")).toBeGreaterThan(0);
      const idle = await eventually(async () => {
        const now = await scrapeOf();
        return sampleValue(now, "parley_webhook_lanes", { state: "running" }) === 0 && now;
      }, 10_000);
      expect(sampleValue(idle, "parley_webhook_lanes", { state: "retrying" })).toBe(0);
    } finally {
      await receiver.close();
      await relay.dispose();
    }
  });
});

describe("GET /metrics on the edge", () => {
  it("answers 404 saying metrics are Node and Deno only (the edge's API has no metrics)", async () => {
    // The API as party/edge/edge-api.ts builds it: no `metrics` among its deps.
    const key = "sk_edge_key_0123456789";
    const deps = {
      auth: new Authenticator([{ id: "default", secret: "s".repeat(32), serverKey: key }]),
      limits: defaultLimits,
      origins: { allowed: [], allowLocalhost: false },
      devMode: false,
      onError: () => {},
    } as unknown as ApiDeps;
    for (const auth of [`Bearer ${key}`, undefined]) {
      const res = await createApi(deps).request("/metrics", auth ? { headers: { authorization: auth } } : {});
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("not_found");
      expect(body.error.message).toMatch(/Node and Deno/);
    }
  });
});

describe("GET /metrics: the switches", () => {
  it("takes 1 or 0, and refuses anything else with a message naming the variable", async () => {
    expect(await optionsFromEnv({ PARLEY_METRICS: "0", PARLEY_METRICS_PUBLIC: "1" })).toMatchObject({
      metrics: false,
      metricsPublic: true,
    });
    for (const name of ["PARLEY_METRICS", "PARLEY_METRICS_PUBLIC"]) {
      await expect(optionsFromEnv({ [name]: "yes" })).rejects.toThrow(ConfigError);
      await expect(optionsFromEnv({ [name]: "yes" })).rejects.toThrow(name);
    }
  });

  it("is public with PARLEY_METRICS_PUBLIC=1", async () => {
    const open = await startServer({ env: { PARLEY_METRICS_PUBLIC: "1" } });
    try {
      const res = await api(() => open.url, null).get("/metrics");
      expect(res.status).toBe(200);
      expect(parseExposition(res.text).types.get("parley_messages_stored_total")).toBe("counter");
    } finally {
      await open.dispose();
    }
  });

  it("is off with PARLEY_METRICS=0 (404, for any credential)", async () => {
    const off = await startServer({ env: { PARLEY_METRICS: "0" } });
    try {
      expectError(await api(() => off.url, off.serverKey).get("/metrics"), 404, "not_found");
      expectError(await api(() => off.url, null).get("/metrics"), 404, "not_found");
    } finally {
      await off.dispose();
    }
  });
});
