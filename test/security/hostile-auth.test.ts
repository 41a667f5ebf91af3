/**
 * Hostile credentials: `alg: none`, algorithm confusion, expired / not-yet-valid / exp-less
 * tokens, wrong secrets, tampered claims, another app's token, non-members, removed members
 * still connected, tokens in logs. Each is refused with the contract's status or close code
 * on every transport, nothing is stored, and the relay keeps serving.
 */
import { createHmac } from "node:crypto";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { api, mintToken, SseClient, WsClient } from "../helpers/clients.ts";
import { expectError, history, send, sleep, uid, useServer } from "../helpers/world.ts";
import { ACME, appsEnv, expectIntactAndServing } from "./kit.ts";

const w = useServer({ env: { ...appsEnv, PARLEY_LOG: "debug", PARLEY_PRESENCE_GRACE_MS: "1" } });

const enc = (s: string) => new TextEncoder().encode(s);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

async function setup(): Promise<{ conv: string; u: string; v: string }> {
  const u = uid("u");
  const v = uid("v");
  return { conv: await w.conversation([u, v]), u, v };
}

/** An HS256 token over arbitrary header and claims. */
function hs(claims: Record<string, unknown>, secret: string, header: Record<string, unknown> = {}) {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT", ...header }).sign(enc(secret));
}

/** A JWS signed by hand (HMAC-SHA256 over any header), for headers jose will not sign. */
function handSigned(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  secret: string,
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/**
 * `token` is refused on every transport of `conv` with `status` (HTTP) and `close` (socket),
 * and nothing is stored.
 */
async function expectRefused(
  token: string,
  conv: string,
  member: string,
  status: number[] = [401],
  close: number[] = [4001],
): Promise<void> {
  const a = api(w.server.url, token);
  const p = `/v1/conversations/${conv}`;
  const lastSeq = (await history(await w.as(member), conv)).length;
  const checks = [
    await a.post(`${p}/messages`, { clientMessageId: uid("k"), body: "forged" }),
    await a.get(`${p}/messages`),
    await api(w.server.url, null).get(`${p}/messages?after=0&wait=1&token=${encodeURIComponent(token)}`),
    await a.get(p),
    await a.post(`${p}/typing`),
    await a.post(`${p}/read`, { seq: 0 }),
    await a.get(`${p}/presence`),
  ];
  for (const res of checks) {
    expect(status, `${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
    expectError(res, res.status);
  }
  const sse = new SseClient(`${w.server.url}${p}/events?after=0&token=${encodeURIComponent(token)}`);
  await sse.ready;
  expect(status).toContain(sse.status);
  const s = w.track(WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, { token, after: 0 }));
  const info = await s.closed;
  expect(close, `socket closed with ${info.code} (HTTP ${s.unexpectedStatus})`).toContain(info.code);
  expect(s.frames, "no frame before the close").toEqual([]);
  await expectIntactAndServing(w, conv, member, lastSeq);
}

describe("forged and broken tokens", () => {
  it("alg none (none / None / NONE, with or without a signature part) is 401 / 4001", async () => {
    const { conv, u } = await setup();
    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      const unsigned = `${b64({ alg, typ: "JWT" })}.${b64({ sub: u, exp: now() + 3600 })}.`;
      await expectRefused(unsigned, conv, u);
    }
    const good = await w.token(u);
    const [, , sig] = good.split(".");
    await expectRefused(`${b64({ alg: "none" })}.${b64({ sub: u, exp: now() + 3600 })}.${sig}`, conv, u);
  });

  it("algorithm confusion: HS256 keyed with an RSA public key's PEM text is 401 / 4001", async () => {
    const { conv, u } = await setup();
    const { publicKey } = await generateKeyPair("RS256", { extractable: true });
    const pem = await exportSPKI(publicKey);
    await expectRefused(await hs({ sub: u, exp: now() + 3600 }, pem), conv, u);
  });

  it("algorithm confusion: a real RS256 token, and an RS256 header over an HMAC with the app secret, are 401", async () => {
    const { conv, u } = await setup();
    const { privateKey } = await generateKeyPair("RS256");
    const rs = await new SignJWT({ sub: u })
      .setProtectedHeader({ alg: "RS256" })
      .setExpirationTime(now() + 3600)
      .sign(privateKey);
    await expectRefused(rs, conv, u);
    // Header says RS256, the signature is HS256 with the right secret.
    const real = await hs({ sub: u, exp: now() + 3600 }, w.server.secret);
    const [, payload, sig] = real.split(".");
    await expectRefused(`${b64({ alg: "RS256", typ: "JWT" })}.${payload}.${sig}`, conv, u);
  });

  it("an ES256 token carrying its own key in a jwk header (embedded key attack) is 401", async () => {
    const { conv, u } = await setup();
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const t = await new SignJWT({ sub: u })
      .setProtectedHeader({ alg: "ES256", jwk })
      .setExpirationTime(now() + 3600)
      .sign(privateKey);
    await expectRefused(t, conv, u);
  });

  it("expired beyond the 60 s leeway is 401 / 4001", async () => {
    const { conv, u } = await setup();
    await expectRefused(await mintToken(w.server.secret, u, { expiresIn: -90 }), conv, u);
    await expectRefused(await hs({ sub: u, exp: 1 }, w.server.secret), conv, u);
  });

  it("a future nbf (beyond the leeway) is 401 / 4001", async () => {
    const { conv, u } = await setup();
    await expectRefused(await hs({ sub: u, exp: now() + 7200, nbf: now() + 3600 }, w.server.secret), conv, u);
    await expectRefused(await hs({ sub: u, exp: now() + 7200, nbf: now() + 120 }, w.server.secret), conv, u);
  });

  it("a token without exp, or with a non-numeric exp, is 401 / 4001", async () => {
    const { conv, u } = await setup();
    await expectRefused(await mintToken(w.server.secret, u, { noExp: true }), conv, u);
    await expectRefused(await hs({ sub: u, exp: "tomorrow" }, w.server.secret), conv, u);
    await expectRefused(await hs({ sub: u, exp: null }, w.server.secret), conv, u);
  });

  it("a token signed with the wrong secret (or a prefix of the right one) is 401 / 4001", async () => {
    const { conv, u } = await setup();
    await expectRefused(await mintToken("another-secret-of-at-least-32-bytes!!!", u), conv, u);
    await expectRefused(await mintToken(w.server.secret.slice(0, 32), u), conv, u);
    await expectRefused(await mintToken(ACME.secret, u), conv, u);
  });

  it("a tampered payload (sub changed, signature kept) is 401 / 4001", async () => {
    const { conv, u, v } = await setup();
    const real = await mintToken(w.server.secret, v);
    const [h, , sig] = real.split(".");
    await expectRefused(`${h}.${b64({ sub: u, exp: now() + 3600 })}.${sig}`, conv, u);
  });

  it("bad subjects and app claims (../x, empty, 129 chars, numbers, objects, unknown app) are 401 / 4001", async () => {
    const { conv, u } = await setup();
    const s = w.server.secret;
    for (const claims of [
      { sub: "../x" },
      { sub: "" },
      { sub: "u".repeat(129) },
      { sub: 42 },
      { sub: u, app: 7 },
      { sub: u, app: { id: "default" } },
      { sub: u, app: ["default"] },
      { sub: u, app: "no-such-app" },
      { sub: u, app: "__proto__" },
      { sub: u, app: "constructor" },
    ]) {
      await expectRefused(await hs({ ...claims, exp: now() + 3600 }, s), conv, u);
    }
  });

  it("an unknown critical header is 401; garbage, empty and 3-dot tokens are 401", async () => {
    const { conv, u } = await setup();
    const claims = { sub: u, exp: now() + 3600 };
    const crit = handSigned({ alg: "HS256", crit: ["x-must"], "x-must": 1 }, claims, w.server.secret);
    await expectRefused(crit, conv, u);
    // Control: the same hand-made signature without crit is a valid token.
    const plain = handSigned({ alg: "HS256", typ: "JWT" }, claims, w.server.secret);
    expect((await api(w.server.url, plain).get(`/v1/conversations/${conv}`)).status).toBe(200);
    for (const t of ["a.b.c", "...", "x", `${b64({ alg: "HS256" })}..`, "e30.e30.e30"]) {
      await expectRefused(t, conv, u);
    }
  });

  it("the server key is not a user token: as ?token= it is 401 / 4001; on user-only routes 403", async () => {
    const { conv, u } = await setup();
    const s = w.track(
      WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, { token: w.server.serverKey }),
    );
    expect((await s.closed).code).toBe(4001);
    const lp = await api(w.server.url, null).get(
      `/v1/conversations/${conv}/messages?token=${encodeURIComponent(w.server.serverKey)}`,
    );
    expectError(lp, 401);
    expectError(await w.admin.get("/v1/conversations"), 403);
    expectError(await w.admin.post(`/v1/conversations/${conv}/typing`), 403);
    // Malformed Authorization headers.
    for (const h of [
      "Basic dXNlcjpwYXNz",
      `Bearer ${w.server.serverKey} extra`,
      "Bearer",
      `Token ${w.server.serverKey}`,
    ]) {
      const res = await api(w.server.url, null).get(`/v1/conversations/${conv}`, {
        headers: { authorization: h },
      });
      expectError(res, 401);
    }
    await expectIntactAndServing(w, conv, u, 0);
  });
});

describe("other apps and membership", () => {
  it("acme's valid token on a default-app conversation: 403/404 and 4003/4004, nothing stored", async () => {
    const { conv, u } = await setup();
    await expectRefused(await mintToken(ACME.secret, u, { app: "acme" }), conv, u, [403, 404], [4003, 4004]);
  });

  it("a token claiming app default signed with acme's secret, and app acme signed with default's, are 401", async () => {
    const { conv, u } = await setup();
    await expectRefused(await mintToken(ACME.secret, u, { app: "default" }), conv, u);
    await expectRefused(
      await mintToken(w.server.secret, u, { app: "acme" }),
      conv,
      u,
      [401, 403, 404],
      [4001, 4003, 4004],
    );
    // The second one, precisely: it must not verify at all.
    const res = await api(w.server.url, await mintToken(w.server.secret, u, { app: "acme" })).get(
      "/v1/conversations",
    );
    expectError(res, 401);
  });

  it("a non-member with a valid token: 403 on every route, 4003 on the socket, nothing stored", async () => {
    const { conv, u } = await setup();
    await expectRefused(await mintToken(w.server.secret, uid("outsider")), conv, u, [403], [4003]);
  });

  it("a removed member still connected: socket 4003 and SSE closed at once, HTTP 403, no message after removal leaks", async () => {
    const { conv, u, v } = await setup();
    const sock = await w.synced(v, conv, { after: 0 });
    const sse = new SseClient(
      `${w.server.url}/v1/conversations/${conv}/events?after=0&token=${await w.token(v)}`,
    );
    await sse.waitFor((e) => e.data.type === "synced", 5000);
    // A long-poll waiting when the removal happens.
    const poll = (await w.as(v)).get(`/v1/conversations/${conv}/messages?after=0&wait=5`, {
      timeoutMs: 10_000,
    });
    await sleep(200);
    const removedAt = Date.now();
    expect((await w.admin.del(`/v1/conversations/${conv}/members/${v}`)).status).toBe(204);
    const closed = await sock.closed;
    expect(closed.code).toBe(4003);
    expect(Date.now() - removedAt).toBeLessThan(1000);
    await sse
      .waitFor((e) => e.event === "close" || e.data.type === "close", 2000, "SSE close event")
      .catch(() => undefined);
    // A message after the removal must reach none of the removed member's transports.
    const after = await send(await w.as(u), conv, "secret-after-removal", "not for the removed member");
    const polled = await poll;
    if (polled.status === 200) {
      expect(
        polled.json.messages.map((m: { seq: number }) => m.seq),
        "a long-poll held across the removal returned a message sent after it",
      ).not.toContain(after.seq);
    } else expectError(polled, 403);
    await sleep(200);
    expect(sock.messages(), "socket").not.toContain(after.seq);
    expect(sse.messages(), "SSE").not.toContain(after.seq);
    sse.close();
    expectError(await (await w.as(v)).get(`/v1/conversations/${conv}/messages`), 403);
    expectError(
      await (await w.as(v)).post(`/v1/conversations/${conv}/messages`, { clientMessageId: "x", body: "x" }),
      403,
    );
    const again = await w.socket(v, conv);
    expect((await again.closed).code).toBe(4003);
    expect((await history(await w.as(u), conv)).length).toBe(1);
  });
});

describe("tokens never in logs", () => {
  it("with PARLEY_LOG=debug, no token (nor its signature) appears in the relay's output", async () => {
    const { conv, u, v } = await setup();
    const good = await w.token(u);
    const expired = await mintToken(w.server.secret, u, { expiresIn: -3600 });
    const foreign = await mintToken(ACME.secret, u, { app: "acme" });
    const forged = await mintToken("another-secret-of-at-least-32-bytes!!!", u);
    const tokens = [good, expired, foreign, forged];
    for (const t of tokens) {
      const q = encodeURIComponent(t);
      const s = w.track(WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, { token: t }));
      await Promise.race([s.opened.catch(() => undefined), s.closed]);
      await s.close();
      await api(w.server.url, null).get(`/v1/conversations/${conv}/messages?after=0&wait=0&token=${q}`);
      await api(w.server.url, null).get(`/v1/conversations/${conv}/presence?token=${q}`);
      const sse = new SseClient(`${w.server.url}/v1/conversations/${conv}/events?token=${q}`);
      await sse.ready;
      sse.close();
      await api(w.server.url, t).post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: uid("k"),
        body: "x",
      });
      await api(w.server.url, t).get(`/v1/conversations/${uid("missing")}`);
      // Errors and refusals with the token around: bad frames, a removed-member close.
      await api(w.server.url, null).get(`/parties/conversation/${conv}?token=${q}`);
    }
    const sock = await w.synced(v, conv);
    sock.sendRaw("not json");
    sock.sendRaw(Buffer.from([1, 2, 3]));
    await sleep(300);
    await w.admin.del(`/v1/conversations/${conv}/members/${v}`);
    await sock.closed;
    await sleep(300);
    const out = w.server.output();
    expect(out.length).toBeGreaterThan(0);
    for (const t of tokens) {
      const sig = t.split(".")[2] ?? t;
      expect(out.includes(t), "a whole token in the log").toBe(false);
      expect(out.includes(sig), "a token signature in the log").toBe(false);
      expect(out.includes(encodeURIComponent(t))).toBe(false);
    }
    expect(out).not.toMatch(/token=ey/);
  });
});
