/**
 * Hostile input, JSON: broken documents, deep nesting, `__proto__` / `constructor` keys, wrong
 * types, numbers past 2^53 and past the double range, strings SQLite may not keep (lone
 * surrogates, NUL). Each is refused with the contract's 400 (or bad_frame on a socket), or
 * stored verbatim, and a retry of an accepted send is answered with the same message even after
 * a restart.
 */
import { describe, expect, it } from "vitest";
import { type ApiResponse, api, type Json } from "../helpers/clients.ts";
import { expectError, history, uid, useServer } from "../helpers/world.ts";
import { expectIntactAndServing, rawSynced } from "./kit.ts";
import { Op } from "./raw-ws.ts";

const w = useServer({ env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" } });

const msgPath = (conv: string) => `/v1/conversations/${conv}/messages`;

async function setup(): Promise<{ conv: string; u: string; v: string }> {
  const u = uid("u");
  const v = uid("v");
  return { conv: await w.conversation([u, v]), u, v };
}

/** POST a raw JSON text as `user`. */
async function postRaw(user: string, path: string, raw: string): Promise<ApiResponse> {
  return (await w.as(user)).post(path, undefined, { raw });
}

/**
 * Sends `raw` (a send body) and checks the contract for odd-but-valid JSON: refused with 400, or
 * stored so that the ack, the history after a restart and a retry of the same request all
 * agree, and what is stored is what was sent (`expected`, as JSON.parse reads `raw`).
 */
async function expectVerbatimOrRefused(raw: string): Promise<"refused" | "stored"> {
  const { conv, u } = await setup();
  const sent: Json = JSON.parse(raw);
  const first = await postRaw(u, msgPath(conv), raw);
  if (first.status === 400) {
    expectError(first, 400);
    await expectIntactAndServing(w, conv, u, 0);
    return "refused";
  }
  expect(first.status, first.text).toBe(201);
  const acked = first.json.message;
  expect(acked.body, "the ack carries the body that was sent").toBe(sent.body);
  if (sent.meta !== undefined)
    expect(acked.meta, "the ack carries the meta that was sent").toEqual(sent.meta);
  if (sent.meta !== undefined) {
    expect(Object.keys(acked.meta).sort()).toEqual(Object.keys(sent.meta).sort());
  }
  await w.server.restart();
  const [stored] = await history(await w.as(u), conv);
  expect(stored, "the history after a restart holds the acked message unchanged").toEqual(acked);
  const again = await postRaw(u, msgPath(conv), raw);
  expect(again.status, `a retry after a restart: ${again.text.slice(0, 200)}`).toBe(200);
  expect(again.json.message).toEqual(acked);
  await expectIntactAndServing(w, conv, u, 1);
  return "stored";
}

describe("broken JSON", () => {
  it("HTTP: truncated, trailing garbage, single quotes, NaN, comments, BOM, UTF-16 and empty bodies are 400", async () => {
    const { conv, u } = await setup();
    const bodies = [
      '{"clientMessageId":"k","body":"x"',
      '{"clientMessageId":"k","body":"x"}garbage',
      "{'clientMessageId':'k','body':'x'}",
      '{"clientMessageId":"k","body":NaN}',
      '{"clientMessageId":"k", /* c */ "body":"x"}',
      '{"clientMessageId":"k","body":"x",}',
      "",
      "null",
      '"just a string"',
      "\u0000",
      Buffer.from('{"clientMessageId":"k","body":"x"}', "utf16le").toString("latin1"),
    ];
    for (const raw of bodies) {
      const res = await postRaw(u, msgPath(conv), raw);
      expect(res.status, `${JSON.stringify(raw).slice(0, 60)} → ${res.text.slice(0, 200)}`).toBe(400);
      expectError(res, 400);
    }
    // An unparsable read receipt and conversation too.
    expectError(await postRaw(u, `/v1/conversations/${conv}/read`, '{"seq":'), 400);
    expectError(await w.admin.post("/v1/conversations", undefined, { raw: '{"members":[' }), 400);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("socket: broken JSON frames get bad_frame errors; the socket stays usable", async () => {
    const { conv, u } = await setup();
    const ws = await rawSynced(w, u, conv);
    const frames = ['{"type":"send"', "}{", "undefined", "", "[]", "null", "42", '"ping"'];
    for (const f of frames) ws.send(Op.text, f);
    for (let t = 0; t < 60 && ws.json.filter((f) => f.type === "error").length < frames.length; t++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const errors = ws.json.filter((f) => f.type === "error");
    expect(errors.length).toBe(frames.length);
    for (const e of errors) expect(e.code).toBe("bad_frame");
    ws.sendJson({ type: "ping" });
    await ws.waitFor((f) => f.type === "pong", 3000);
    ws.destroy();
    await expectIntactAndServing(w, conv, u, 0);
  });
});

describe("deep nesting", () => {
  it("HTTP: 10,000 unbalanced '[' and a 20,000-deep balanced array are 400, in bounded time", async () => {
    const { conv, u } = await setup();
    const started = Date.now();
    expectError(await postRaw(u, msgPath(conv), "[".repeat(10_000)), 400);
    expectError(await postRaw(u, msgPath(conv), `${"[".repeat(20_000)}${"]".repeat(20_000)}`), 400);
    expectError(await postRaw(u, msgPath(conv), `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`), 400);
    expect(Date.now() - started).toBeLessThan(5000);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("HTTP: meta nested 10,000 deep (and 9 deep) is 400; 8 deep is accepted", async () => {
    const { conv, u } = await setup();
    const deep = `{"clientMessageId":"deep","body":"x","meta":{"a":${"[".repeat(10_000)}${"]".repeat(10_000)}}}`;
    expectError(await postRaw(u, msgPath(conv), deep), 400);
    const nest = (n: number): Json => (n === 0 ? 1 : { d: nest(n - 1) });
    expectError(
      await (await w.as(u)).post(msgPath(conv), { clientMessageId: "nine", body: "x", meta: nest(9) }),
      400,
    );
    const ok = await (await w.as(u)).post(msgPath(conv), {
      clientMessageId: "eight",
      body: "x",
      meta: nest(8),
    });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json.message.meta).toEqual(nest(8));
    await expectIntactAndServing(w, conv, u, 1);
  });

  it("socket: 10,000 '[' and a send with 10,000-deep meta get bad_frame (with the send's key)", async () => {
    const { conv, u } = await setup();
    const ws = await rawSynced(w, u, conv);
    ws.send(Op.text, "[".repeat(10_000));
    await ws.waitFor((f) => f.type === "error" && f.code === "bad_frame", 3000);
    ws.send(
      Op.text,
      `{"type":"send","clientMessageId":"deep-ws","body":"x","meta":{"a":${"[".repeat(10_000)}${"]".repeat(10_000)}}}`,
    );
    const e = await ws.waitFor((f) => f.type === "error" && f.clientMessageId === "deep-ws", 3000);
    expect(e.code).toBe("bad_frame");
    expect(ws.isClosed).toBe(false);
    ws.destroy();
    await expectIntactAndServing(w, conv, u, 0);
  });
});

describe("prototype keys", () => {
  it("a top-level __proto__ or constructor in a send body is refused, and never changes the sender", async () => {
    const { conv, u, v } = await setup();
    const raws = [
      `{"clientMessageId":"p1","body":"x","__proto__":{"senderId":"${v}"}}`,
      `{"clientMessageId":"p2","body":"x","constructor":{"prototype":{"senderId":"${v}"}}}`,
      `{"__proto__":{"clientMessageId":"p3","body":"x"}}`,
    ];
    for (const raw of raws) {
      const res = await postRaw(u, msgPath(conv), raw);
      expect(res.status, `${raw} → ${res.text.slice(0, 200)}`).toBe(400);
    }
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("meta with __proto__ is stored verbatim (an own key) or refused, never silently dropped", async () => {
    const raw = '{"clientMessageId":"proto","body":"p","meta":{"__proto__":{"polluted":"yes"},"a":1}}';
    await expectVerbatimOrRefused(raw);
  });

  it("meta with constructor / prototype keys is stored verbatim, through a restart", async () => {
    const raw =
      '{"clientMessageId":"ctor","body":"c","meta":{"constructor":{"prototype":{"polluted":"yes"}},"toString":"x","hasOwnProperty":1}}';
    expect(await expectVerbatimOrRefused(raw)).toBe("stored");
  });

  it("after __proto__ payloads, nothing is polluted: no stray keys in answers, auth and membership still hold", async () => {
    const { conv, u, v } = await setup();
    const payload = '{"polluted":"yes","kind":"server","app":"default","isMember":true,"userId":"root"}';
    const ws = await rawSynced(w, u, conv);
    ws.send(Op.text, `{"type":"send","clientMessageId":"pp","body":"x","meta":{"__proto__":${payload}}}`);
    await ws.waitFor((f) => f.type === "ack" || f.type === "error", 3000);
    await postRaw(u, msgPath(conv), `{"clientMessageId":"pq","body":"y","meta":{"__proto__":${payload}}}`);
    await postRaw(u, `/v1/conversations/${conv}/read`, `{"seq":1,"__proto__":${payload}}`);
    await w.admin.post("/v1/conversations", undefined, {
      raw: `{"members":["${u}"],"__proto__":${payload}}`,
    });
    const outsider = uid("out");
    expectError(await (await w.as(outsider)).get(msgPath(conv)), 403);
    expectError(await api(w.server.url, "not-a-key").get(`/v1/conversations/${conv}`), 401);
    const desc = await (await w.as(v)).get(`/v1/conversations/${conv}`);
    expect(desc.status).toBe(200);
    expect(desc.text).not.toContain("polluted");
    expect((await (await w.as(v)).get("/v1/conversations")).text).not.toContain("polluted");
    const fresh = await w.conversation([v]);
    const m = await (await w.as(v)).post(msgPath(fresh), { clientMessageId: "clean", body: "clean" });
    expect(m.status).toBe(201);
    expect(m.json.message.meta).toBeUndefined();
    // The contract's fields (v1.1 adds reactions and replyCount), and nothing else.
    expect(Object.keys(m.json.message).sort()).toEqual(
      [
        "body",
        "clientMessageId",
        "conversationId",
        "createdAt",
        "id",
        "senderId",
        "seq",
        "reactions",
        "replyCount",
      ].sort(),
    );
    ws.destroy();
  });
});

describe("wrong types", () => {
  it("HTTP send: every field of the wrong type is 400", async () => {
    const { conv, u } = await setup();
    const bad: unknown[] = [
      { clientMessageId: "k", body: 42 },
      { clientMessageId: "k", body: null },
      { clientMessageId: "k", body: ["x"] },
      { clientMessageId: "k", body: { s: "x" } },
      { clientMessageId: 7, body: "x" },
      { clientMessageId: ["k"], body: "x" },
      { clientMessageId: null, body: "x" },
      { clientMessageId: "k", body: "x", meta: "m" },
      { clientMessageId: "k", body: "x", meta: ["m"] },
      { clientMessageId: "k", body: "x", meta: 5 },
      { clientMessageId: "k", body: "x", meta: null },
      { clientMessageId: "k", body: "x", extra: true },
      { clientMessageId: "k", body: "x", seq: 99 },
      { clientMessageId: "k", body: "x", id: "m_forged" },
      { clientMessageId: "k", body: "x", createdAt: "1970-01-01T00:00:00Z" },
      true,
      42,
    ];
    for (const b of bad) {
      const res = await (await w.as(u)).post(msgPath(conv), b);
      expect(res.status, `${JSON.stringify(b)} → ${res.text.slice(0, 200)}`).toBe(400);
      expectError(res, 400);
    }
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("HTTP read receipts, conversations and token requests of the wrong shape are 400", async () => {
    const { conv, u } = await setup();
    const a = await w.as(u);
    for (const seq of ["5", -1, 1.5, true, null, [1], { n: 1 }]) {
      expectError(await a.post(`/v1/conversations/${conv}/read`, { seq }), 400);
    }
    for (const b of [
      { members: "alice" },
      { members: [1, 2] },
      { members: [{ id: "x" }] },
      { members: ["ok"], title: 42 },
      { members: ["ok"], id: 5 },
      { members: ["ok"], id: "has space" },
      { members: Array.from({ length: 10_001 }, () => "m") },
      {},
    ]) {
      const res = await w.admin.post("/v1/conversations", b);
      expect(res.status, `${JSON.stringify(b).slice(0, 80)} → ${res.text.slice(0, 200)}`).toBe(400);
    }
    for (const b of [{ userId: 5 }, { userId: "x", ttlSeconds: "60" }, { userId: "x", ttlSeconds: -1 }, {}]) {
      expectError(await w.admin.post("/v1/tokens", b), 400);
    }
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("socket: frames of the wrong type or shape get bad_frame (naming a valid send key)", async () => {
    const { conv, u } = await setup();
    const ws = await rawSynced(w, u, conv);
    const frames: unknown[] = [
      { type: 1 },
      { type: ["send"] },
      { type: null },
      { clientMessageId: "no-type", body: "x" },
      { type: "send", clientMessageId: "num-body", body: 1 },
      { type: "send", clientMessageId: "arr-meta", body: "x", meta: [1] },
      { type: "send", clientMessageId: "extra", body: "x", senderId: "someone-else" },
      { type: "read", seq: "3" },
      { type: "read", seq: -1 },
      { type: "typing", userId: "someone-else" },
      { type: "ping", extra: 1 },
      { type: "SEND", clientMessageId: "caps", body: "x" },
    ];
    for (const f of frames) ws.sendJson(f);
    for (let t = 0; t < 60 && ws.json.filter((f) => f.type === "error").length < frames.length; t++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const errors = ws.json.filter((f) => f.type === "error");
    expect(errors.length).toBe(frames.length);
    for (const e of errors) expect(e.code).toBe("bad_frame");
    for (const key of ["num-body", "arr-meta", "extra"]) {
      expect(
        errors.some((e) => e.clientMessageId === key),
        key,
      ).toBe(true);
    }
    expect(ws.json.filter((f) => f.type === "ack" || f.type === "message")).toEqual([]);
    ws.destroy();
    await expectIntactAndServing(w, conv, u, 0);
  });
});

describe("huge numbers", () => {
  it("read seq 2^60, 2^53+1, 1e400 and -0.0 are 400 (HTTP) and bad_frame (socket); nothing moves", async () => {
    const { conv, u, v } = await setup();
    await expectIntactAndServing(w, conv, u, 0); // seq 1 exists
    const a = await w.as(v);
    for (const raw of [
      '{"seq":1152921504606846976}',
      '{"seq":9007199254740993}',
      '{"seq":1e400}',
      '{"seq":-1e400}',
    ]) {
      const res = await a.post(`/v1/conversations/${conv}/read`, undefined, { raw });
      expect(res.status, `${raw} → ${res.text}`).toBe(400);
    }
    const ws = await rawSynced(w, v, conv);
    ws.send(Op.text, '{"type":"read","seq":1152921504606846976}');
    ws.send(Op.text, '{"type":"read","seq":1e400}');
    for (let t = 0; t < 60 && ws.json.filter((f) => f.type === "error").length < 2; t++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(ws.json.filter((f) => f.type === "error" && f.code === "bad_frame").length).toBe(2);
    const desc = await a.get(`/v1/conversations/${conv}`);
    const me = desc.json.conversation.members.find((m: Json) => m.userId === v);
    expect(me.lastReadSeq).toBe(0);
    ws.destroy();
    await expectIntactAndServing(w, conv, u, 1);
  });

  it("query numbers past 15 digits, negative, fractional, hexadecimal or exponent are 400", async () => {
    const { conv, u } = await setup();
    const a = await w.as(u);
    for (const q of [
      "after=1152921504606846976",
      "after=1e3",
      "after=-1",
      "after=1.5",
      "before=99999999999999999999",
      "limit=1e400",
      "limit=-5",
      "wait=-1",
      "wait=NaN",
      "wait=Infinity",
      // Number() would take these as 16 and 10 seconds (found from outside).
      "wait=0x10",
      "wait=1e1",
    ]) {
      expectError(await a.get(`${msgPath(conv)}?${q}`), 400);
    }
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("meta numbers 1e400 and 2^60 are stored as JSON can hold them, consistently through a restart", async () => {
    const { conv, u } = await setup();
    const raw = '{"clientMessageId":"nums","body":"n","meta":{"inf":1e400,"big":1152921504606846976}}';
    const first = await postRaw(u, msgPath(conv), raw);
    expect([201, 400]).toContain(first.status);
    if (first.status === 201) {
      // A double cannot hold 1e400: it is stored as null, and says so in the ack.
      expect(first.json.message.meta).toEqual({ inf: null, big: 2 ** 60 });
      await w.server.restart();
      const [stored] = await history(await w.as(u), conv);
      expect(stored).toEqual(first.json.message);
      const again = await postRaw(u, msgPath(conv), raw);
      expect(again.status, again.text).toBe(200);
      expect(again.json.message).toEqual(first.json.message);
    }
    await expectIntactAndServing(w, conv, u, first.status === 201 ? 1 : 0);
  });
});

describe("strings SQLite must keep", () => {
  it("a body with a lone surrogate (\\ud800) is stored verbatim or refused; a retry after a restart is 200", async () => {
    await expectVerbatimOrRefused('{"clientMessageId":"sur","body":"x\\ud800y"}');
  });

  it("a body with a NUL character is stored verbatim (not cut at the NUL) or refused", async () => {
    await expectVerbatimOrRefused('{"clientMessageId":"nul","body":"before\\u0000after"}');
  });

  it("a conversation title or a profile name with a lone surrogate or a NUL is refused 400 (a title came back as U+FFFD)", async () => {
    for (const text of ["a\\ud800b", "a\\u0000b"]) {
      const created = await w.admin.post("/v1/conversations", undefined, {
        raw: `{"title":"${text}","members":["${uid("m")}"]}`,
      });
      expectError(created, 400, "bad_request");
      const named = await w.admin.put(`/v1/users/${uid("u")}/profile`, undefined, {
        raw: `{"name":"${text}"}`,
      });
      expectError(named, 400, "bad_request");
    }
  });

  it("control: emoji, RTL, combining marks and NUL inside meta are stored verbatim through a restart", async () => {
    const raw = JSON.stringify({
      clientMessageId: "uni",
      body: "👩‍👩‍👧 שלום e\u0301 \u202e",
      meta: { "k\u0000": "v\u0000", "😀": ["\u2028", "\ufeff"] },
    });
    expect(await expectVerbatimOrRefused(raw)).toBe("stored");
  });
});
