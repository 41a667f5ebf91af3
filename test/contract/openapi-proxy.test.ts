/**
 * The OpenAPI document checked against a real relay by a tool nobody here wrote: every route,
 * with its successes and its refusals, goes through Stoplight Prism's validating proxy, which
 * fails the exchange on any answer the document does not allow (status, headers, body).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../api/openapi/document.ts";
import { type Checked, DocumentCheck, type Exchange } from "../helpers/openapi-check.ts";
import { uid, useServer } from "../helpers/world.ts";

const w = useServer({ env: { PARLEY_MAX_WAIT_SECONDS: "1" } });
let check: DocumentCheck;

beforeAll(async () => {
  check = await DocumentCheck.start(buildOpenApiDocument({ devMode: true }), w.server.url);
});
afterAll(async () => {
  await check?.close();
});

/** Sends through the checker; the answer must be allowed by the document and have `status`. */
async function expectAnswer(x: Exchange, status: number): Promise<Checked> {
  const res = await check.exchange(x);
  expect(res.problems, `${x.method} ${x.path}: ${res.status} ${res.text.slice(0, 300)}`).toEqual([]);
  expect(res.status, `${x.method} ${x.path}: ${res.text.slice(0, 300)}`).toBe(status);
  return res;
}

const get = (path: string, auth?: string | null, headers?: Record<string, string>): Exchange => ({
  method: "GET",
  path,
  auth,
  headers,
});

describe("every route through Prism's validating proxy", () => {
  it("the proxy does validate: an answer the document does not allow is refused", async () => {
    // The same relay behind a document whose Message lacks `body`: every message is a violation.
    const strict = JSON.parse(JSON.stringify(buildOpenApiDocument({ devMode: true })));
    delete strict.components.schemas.Message.properties.body;
    const wrong = await DocumentCheck.start(strict, w.server.url);
    try {
      const ann = uid("ann");
      const conv = await w.conversation([ann]);
      const res = await wrong.exchange({
        method: "POST",
        path: `/v1/conversations/${conv}/messages`,
        auth: await w.token(ann),
        body: { clientMessageId: "k", body: "hi" },
      });
      expect(res.problems.join("\n")).toMatch(/VIOLATIONS/);
    } finally {
      await wrong.close();
    }
  });

  it("health, the document, the reference page, the widget and the demo", async () => {
    await expectAnswer(get("/healthz"), 200);
    await expectAnswer(get("/v1/openapi.json"), 200);
    await expectAnswer(get("/v1/openapi.json", null, { origin: "https://elsewhere.example" }), 403);
    await expectAnswer(get("/docs"), 200);
    await expectAnswer(get("/docs/assets/swagger-ui.css"), 200);
    await expectAnswer(get("/docs/assets/init.js"), 200);
    await expectAnswer(get("/docs/assets/nothing.js"), 404);
    const widget = await expectAnswer(get("/widget.js"), 200);
    await expectAnswer(get("/widget.js", null, { "if-none-match": widget.headers.get("etag") ?? "" }), 304);
    await expectAnswer(get("/demo"), 200);
    await expectAnswer(get("/demo?user=alice&conversation=demo-welcome"), 200);
  });

  it("metrics: the server key scrapes; other credentials are refused", async () => {
    const scraped = await expectAnswer(get("/metrics", w.server.serverKey), 200);
    expect(scraped.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    await expectAnswer(get("/metrics"), 401);
    await expectAnswer(get("/metrics", "garbage"), 401);
    await expectAnswer(get("/metrics", await w.token("ann")), 403);
  });

  it("tokens: minted with the server key, in dev mode without credentials; refusals", async () => {
    const key = w.server.serverKey;
    const mint = (auth: string | null, body: unknown): Exchange => ({
      method: "POST",
      path: "/v1/tokens",
      auth,
      body,
    });
    await expectAnswer(mint(key, { userId: "ann", name: "Ann", ttlSeconds: 600 }), 201);
    await expectAnswer(mint(key, { userId: "bad id" }), 400);
    await expectAnswer(mint(key, { userId: "ann", extra: 1 }), 400);
    await expectAnswer({ ...mint(key, undefined), raw: "userId=ann", contentType: "text/plain" }, 415);
    await expectAnswer({ ...mint(key, undefined), raw: "{not json", contentType: "application/json" }, 400);
    await expectAnswer(mint(null, { userId: "ann" }), 401);
    await expectAnswer(mint("garbage", { userId: "ann" }), 401);
    await expectAnswer(mint(await w.token("ann"), { userId: "ann" }), 403);
    await expectAnswer(get("/v1/dev/token?user=ann&name=Ann"), 200);
    await expectAnswer(get("/v1/dev/token?user=bad%20id"), 400);
    await expectAnswer(get("/v1/dev/token"), 400);
    // 403 on a DNS name (rebinding) needs a Host header fetch cannot set: config.test.ts sends it.
  });

  it("conversations and members", async () => {
    const [ann, bob, eve] = [uid("ann"), uid("bob"), uid("eve")];
    const [a, e, key] = [await w.token(ann), await w.token(eve), w.server.serverKey];
    const id = uid("c");
    const create = (auth: string, body: unknown): Exchange => ({
      method: "POST",
      path: "/v1/conversations",
      auth,
      body,
    });
    await expectAnswer(create(key, { id, title: "Plans", members: [ann, bob] }), 201);
    await expectAnswer(create(key, { members: [ann] }), 201);
    await expectAnswer(create(key, { id, members: [ann] }), 409);
    await expectAnswer(create(key, { id: "no spaces", members: [] }), 400);
    await expectAnswer(create(a, { members: [ann] }), 403);
    await expectAnswer(get("/v1/conversations?limit=1", a), 200);
    const page = await expectAnswer(get("/v1/conversations?limit=1", a), 200);
    const cursor = (page.json as { nextCursor: string | null }).nextCursor;
    if (cursor) await expectAnswer(get(`/v1/conversations?cursor=${encodeURIComponent(cursor)}`, a), 200);
    await expectAnswer(get("/v1/conversations?cursor=junk", a), 400);
    await expectAnswer(get("/v1/conversations?limit=-1", a), 400);
    await expectAnswer(get("/v1/conversations", key), 403);
    await expectAnswer(get("/v1/conversations"), 401);
    await expectAnswer(get(`/v1/conversations/${id}`, a), 200);
    await expectAnswer(get(`/v1/conversations/${id}`, key), 200);
    await expectAnswer(get(`/v1/conversations/${id}`, e), 403);
    await expectAnswer(get(`/v1/conversations/${uid("none")}`, a), 404);
    await expectAnswer(get("/v1/conversations/a.b", a), 400);
    const member = (method: string, user: string, auth = key): Exchange => ({
      method,
      path: `/v1/conversations/${id}/members/${encodeURIComponent(user)}`,
      auth,
    });
    await expectAnswer(member("PUT", eve), 204);
    await expectAnswer(member("PUT", eve), 204);
    await expectAnswer(member("DELETE", eve), 204);
    await expectAnswer(member("PUT", "bad id"), 400);
    await expectAnswer(member("PUT", eve, a), 403);
    await expectAnswer(member("DELETE", eve, a), 403);
    await expectAnswer(
      { ...member("PUT", eve), path: `/v1/conversations/${uid("none")}/members/${eve}` },
      404,
    );
  });

  it("messages: send, history, long-poll, the event stream, changes, replies and the log", async () => {
    const [ann, bob, eve] = [uid("ann"), uid("bob"), uid("eve")];
    const [a, b, e, key] = [await w.token(ann), await w.token(bob), await w.token(eve), w.server.serverKey];
    const conv = await w.conversation([ann, bob]);
    const msgs = `/v1/conversations/${conv}/messages`;
    const send = (auth: string, body: unknown): Exchange => ({ method: "POST", path: msgs, auth, body });
    await expectAnswer(send(a, { clientMessageId: "k1", body: "hello", meta: { n: 1 } }), 201);
    await expectAnswer(send(a, { clientMessageId: "k1", body: "hello", meta: { n: 1 } }), 200);
    await expectAnswer(send(a, { clientMessageId: "k1", body: "other" }), 409);
    await expectAnswer(send(b, { clientMessageId: "r1", body: "a reply", replyTo: 1 }), 201);
    await expectAnswer(send(b, { clientMessageId: "r2", body: "to nothing", replyTo: 99 }), 400);
    await expectAnswer(send(key, { clientMessageId: "s1", body: "from the back end", senderId: bob }), 201);
    await expectAnswer(send(key, { clientMessageId: "s2", body: "who?" }), 400);
    await expectAnswer(send(a, { clientMessageId: "s3", body: "as bob", senderId: bob }), 403);
    await expectAnswer(send(e, { clientMessageId: "e1", body: "let me in" }), 403);
    await expectAnswer(send(a, { clientMessageId: "big", body: "x".repeat(17 * 1024) }), 413);
    await expectAnswer({ ...send(a, undefined), raw: "x".repeat(70 * 1024), contentType: "text/plain" }, 413);
    await expectAnswer({ ...send(a, undefined), raw: "hello", contentType: "text/plain" }, 415);
    await expectAnswer({ ...send(a, undefined), raw: "{", contentType: "application/json" }, 400);
    await expectAnswer(
      { ...send(a, { clientMessageId: "k", body: "x" }), path: `/v1/conversations/${uid("none")}/messages` },
      404,
    );

    await expectAnswer(get(`${msgs}?after=0&limit=2`, a), 200);
    await expectAnswer(get(`${msgs}?before=3`, a), 200);
    await expectAnswer(get(msgs, a), 200);
    await expectAnswer(get(`${msgs}?after=0&token=${b}`), 200);
    await expectAnswer(get(`${msgs}?after=3&wait=0.2`, a), 200);
    await expectAnswer(get(`${msgs}?after=1&before=3`, a), 400);
    await expectAnswer(get(`${msgs}?wait=-1`, a), 400);
    await expectAnswer(get(msgs, e), 403);
    await expectAnswer(get(`${msgs}?token=garbage`), 401);

    const events = `/v1/conversations/${conv}/events`;
    await expectAnswer(get(`${events}?after=0`, a), 200);
    await expectAnswer(get(`${events}?token=${b}`), 200);
    await expectAnswer(get(events, a, { "last-event-id": "x" }), 400);
    await expectAnswer(get(events, e), 403);

    const edit = (auth: string, seq: number | string, body: unknown): Exchange => ({
      method: "PATCH",
      path: `${msgs}/${seq}`,
      auth,
      body,
    });
    await expectAnswer(edit(a, 1, { body: "hello!", meta: null }), 200);
    await expectAnswer(edit(key, 1, { body: "moderated" }), 200);
    await expectAnswer(edit(b, 1, { body: "hijack" }), 403);
    await expectAnswer(edit(a, 1, {}), 400);
    await expectAnswer(edit(a, 0, { body: "x" }), 400);
    await expectAnswer(edit(a, 999, { body: "x" }), 404);
    await expectAnswer(edit(a, 1, { body: "x".repeat(17 * 1024) }), 413);
    const reaction = (method: string, auth: string, seq: number, key: string): Exchange => ({
      method,
      path: `${msgs}/${seq}/reactions/${encodeURIComponent(key)}`,
      auth,
    });
    await expectAnswer(reaction("PUT", b, 1, "👍"), 200);
    await expectAnswer(reaction("PUT", b, 1, "👍"), 200);
    await expectAnswer(reaction("DELETE", b, 1, "👍"), 200);
    // Keys named like Object.prototype's properties are keys like any other (they answered 500).
    await expectAnswer(reaction("DELETE", b, 1, "constructor"), 200);
    await expectAnswer(reaction("PUT", b, 1, "__proto__"), 200);
    await expectAnswer(reaction("DELETE", b, 1, "__proto__"), 200);
    await expectAnswer(reaction("PUT", b, 1, "k".repeat(33)), 400);
    await expectAnswer(reaction("PUT", key, 1, "ok"), 403);
    await expectAnswer(reaction("PUT", e, 1, "ok"), 403);
    await expectAnswer(reaction("PUT", b, 999, "ok"), 404);
    await expectAnswer(get(`${msgs}/1/replies?after=0&limit=10`, a), 200);
    await expectAnswer(get(`${msgs}/x/replies`, a), 400);
    await expectAnswer(get(`${msgs}/1/replies`, key), 403);
    const del = (auth: string, seq: number): Exchange => ({ method: "DELETE", path: `${msgs}/${seq}`, auth });
    await expectAnswer(del(b, 1), 403);
    await expectAnswer(del(a, 1), 200);
    await expectAnswer(del(a, 1), 200);
    await expectAnswer(del(key, 2), 200);
    await expectAnswer(reaction("PUT", b, 1, "👍"), 409);
    await expectAnswer(edit(a, 1, { body: "back" }), 409);

    const log = `/v1/conversations/${conv}/log`;
    await expectAnswer(get(`${log}?after=0&limit=3`, a), 200);
    await expectAnswer(get(`${log}?after=0`, key), 200);
    await expectAnswer(get(`${log}?after=0&token=${b}`), 200);
    await expectAnswer(get(`${log}?after=999&wait=0.2`, a), 200);
    await expectAnswer(get(`${log}?after=x`, a), 400);
    await expectAnswer(get(log, e), 403);
  });

  it("profiles: set, read, refusals, and the users maps of the answers that name people", async () => {
    const [ann, bob] = [uid("ann"), uid("bob")];
    const [a, b, key] = [await w.token(ann), await w.token(bob), w.server.serverKey];
    const profile = (method: string, user: string, auth: string | null, body?: unknown): Exchange => ({
      method,
      path: `/v1/users/${encodeURIComponent(user)}/profile`,
      auth,
      body,
    });
    await expectAnswer(profile("PUT", ann, key, { name: "Ann", picture: "https://example.com/a.png" }), 200);
    await expectAnswer(profile("PUT", bob, key, { name: "Bob", picture: null }), 200);
    await expectAnswer(profile("PUT", ann, key, { name: "" }), 400);
    await expectAnswer(profile("PUT", ann, key, {}), 400);
    await expectAnswer(profile("PUT", "bad id", key, { name: "x" }), 400);
    await expectAnswer(profile("PUT", bob, a, { name: "Bobby" }), 403);
    await expectAnswer(profile("PUT", ann, null, { name: "x" }), 401);
    await expectAnswer(profile("GET", ann, key), 200);
    await expectAnswer(profile("GET", ann, a), 200);
    await expectAnswer(profile("GET", bob, a), 403);
    const conv = await w.conversation([ann, bob]);
    const base = `/v1/conversations/${conv}`;
    await expectAnswer(
      { method: "POST", path: `${base}/messages`, auth: a, body: { clientMessageId: "p1", body: "hi" } },
      201,
    );
    await expectAnswer(
      {
        method: "POST",
        path: `${base}/messages`,
        auth: b,
        body: { clientMessageId: "p2", body: "yo", replyTo: 1 },
      },
      201,
    );
    for (const path of [
      `${base}/messages`,
      `${base}/log`,
      `${base}/messages/1/replies`,
      base,
      "/v1/conversations",
    ]) {
      const res = await expectAnswer(get(path, b), 200);
      expect((res.json as { users?: unknown }).users, path).toBeDefined();
    }
  });

  it("typing, read receipts, presence", async () => {
    const [ann, eve] = [uid("ann"), uid("eve")];
    const [a, e, key] = [await w.token(ann), await w.token(eve), w.server.serverKey];
    const conv = await w.conversation([ann]);
    const base = `/v1/conversations/${conv}`;
    await expectAnswer({ method: "POST", path: `${base}/typing`, auth: a }, 204);
    await expectAnswer({ method: "POST", path: `${base}/typing`, auth: e }, 403);
    await expectAnswer({ method: "POST", path: `${base}/typing`, auth: key }, 403);
    await expectAnswer({ method: "POST", path: `${base}/read`, auth: a, body: { seq: 0 } }, 204);
    await expectAnswer({ method: "POST", path: `${base}/read`, auth: a, body: { seq: -1 } }, 400);
    await expectAnswer(
      { method: "POST", path: `${base}/read`, auth: a, raw: "0", contentType: "text/plain" },
      415,
    );
    await expectAnswer({ method: "POST", path: `${base}/read`, auth: e, body: { seq: 0 } }, 403);
    await expectAnswer(get(`${base}/presence`, a), 200);
    await expectAnswer(get(`${base}/presence?token=${a}`), 200);
    await expectAnswer(get(`${base}/presence`, e), 403);
    await expectAnswer(get(`/v1/conversations/${uid("none")}/presence`, a), 404);
  });

  it("rate limits answer 429 with Retry-After", async () => {
    const ann = uid("ann");
    const a = await w.token(ann);
    const conv = await w.conversation([ann]);
    // Bursts of concurrent sends (40 allowed at once, 20/s after): one sequential send at a time
    // could stay under the rate on a loaded machine.
    let limited: Checked | undefined;
    for (let round = 0; round < 3 && !limited; round++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          check.exchange({
            method: "POST",
            path: `/v1/conversations/${conv}/messages`,
            auth: a,
            body: { clientMessageId: `burst-${round}-${i}`, body: "x" },
          }),
        ),
      );
      for (const res of answers) expect(res.problems).toEqual([]);
      limited = answers.find((res) => res.status === 429);
    }
    expect(limited?.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("webhooks: register, list, resume, remove; refusals", async () => {
    const key = w.server.serverKey;
    const hook = (method: string, path: string, body?: unknown, auth: string = key): Exchange => ({
      method,
      path,
      auth,
      body,
    });
    // Loopback, on the discard port: deliveries fail fast and stay on this machine.
    const created = await expectAnswer(
      hook("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook", events: ["message.created"] }),
      201,
    );
    const id = (created.json as { webhook: { id: string } }).webhook.id;
    await expectAnswer(hook("POST", "/v1/webhooks", { url: "not a url" }), 400);
    await expectAnswer(hook("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/", events: ["nope"] }), 400);
    await expectAnswer(
      hook("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/" }, await w.token("ann")),
      403,
    );
    await expectAnswer(hook("GET", "/v1/webhooks"), 200);
    await expectAnswer(hook("POST", `/v1/webhooks/${id}/resume`), 200);
    await expectAnswer(hook("POST", "/v1/webhooks/wh_none/resume"), 404);
    await expectAnswer(hook("DELETE", `/v1/webhooks/${id}`), 204);
    await expectAnswer(hook("DELETE", `/v1/webhooks/${id}`), 404);
    await expectAnswer(hook("DELETE", "/v1/webhooks/bad.id"), 400);
    await expectAnswer(hook("GET", "/v1/webhooks", undefined, "garbage"), 401);
  });

  it("exercised every operation of the document", () => {
    const doc = buildOpenApiDocument({ devMode: true });
    const ids = Object.values(doc.paths ?? {}).flatMap((item) =>
      Object.values(item ?? {}).map((op) => (op as { operationId: string }).operationId),
    );
    const missing = ids.filter((id) => !check.seen.has(id));
    expect(missing).toEqual([]);
  });
});
