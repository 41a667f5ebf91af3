/**
 * Property-based fuzzing (fast-check) of the frame and body parsers: in-process on
 * `parseClientFrame` and the zod schemas (never throw; always a valid frame or `{ error }`),
 * then bounded runs of HTTP bodies and socket frames against the running relay (never a 5xx,
 * never a crash, what is acked is stored, seqs stay gap-free).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isParleyError } from "../../party/core/errors.ts";
import { parseClientFrame } from "../../party/core/room-socket-frames.ts";
import {
  checkBodySize,
  clientFrameSchema,
  clientMessageIdSchema,
  conversationIdSchema,
  metaSchema,
  readInputSchema,
  sendInputSchema,
  userIdSchema,
} from "../../party/core/validation.ts";
import { api, type Json, type Message } from "../helpers/clients.ts";
import { history, range, sleep, uid, useServer } from "../helpers/world.ts";
import { expectIntactAndServing, rawSynced } from "./kit.ts";
import { Op } from "./raw-ws.ts";

/** In-process runs (fast) and runs against the server (bounded for CI). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SERVER_RUNS = Number(process.env.FUZZ_SERVER_RUNS ?? 200);

const KEY_RE = /^[A-Za-z0-9_-]{1,64}$/;

function depth(value: unknown, d = 0): number {
  if (value === null || typeof value !== "object" || d > 50) return d;
  let max = d;
  for (const child of Object.values(value)) max = Math.max(max, depth(child, d + 1));
  return max;
}

const validKey = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const protoKeys = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty");
const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.constantFrom("", "\u0000", "\ud800", "\udfff", "\u2028", "𝕏", "%00", "../x", "null", "1e400"),
);
const nastyNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 53, 2 ** 53 + 2, 2 ** 60, -0, 1e308, Number.MAX_VALUE, Number.MIN_VALUE),
);
/** JSON-ish values with prototype-ish keys sprinkled in. */
const metaLike: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 12 },
    nastyString,
    nastyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string(), protoKeys), tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** Things that look like client frames, mostly almost right. */
const frameLike = fc.record(
  {
    type: fc.oneof(fc.constantFrom("send", "typing", "read", "ping"), nastyString, fc.integer()),
    clientMessageId: fc.oneof(validKey, nastyString, fc.integer()),
    body: fc.oneof(nastyString, metaLike),
    meta: metaLike,
    seq: fc.oneof(nastyNumber, nastyString, fc.constant(null)),
    extra: metaLike,
  },
  { requiredKeys: [] },
);

/** JSON text: valid frame-ish documents, arbitrary JSON, raw strings with JSON fragments. */
const frameText = fc.oneof(
  frameLike.map((f) => JSON.stringify(f)),
  fc.json({ depthSize: "small" }),
  fc.string(),
  fc.string({ unit: "binary" }),
  fc
    .tuple(frameLike, fc.constantFrom(...["__proto__", "constructor"]), metaLike)
    .map(
      ([f, k, v]) =>
        `${JSON.stringify(f).slice(0, -1)}${Object.keys(f).length ? "," : ""}"${k}":${JSON.stringify(v) ?? "null"}}`,
    ),
  fc.nat({ max: 20_000 }).map((n) => "[".repeat(n)),
);

function checkFrame(text: string): void {
  const out = parseClientFrame(text);
  if ("error" in out) {
    expect(typeof out.error).toBe("string");
    const answers = out.answers as { clientMessageId?: string; ref?: string } | undefined;
    if (answers?.clientMessageId !== undefined) expect(answers.clientMessageId).toMatch(KEY_RE);
    return;
  }
  // Whatever parses is a frame the schema accepts, with the invariants the room relies on.
  expect(clientFrameSchema.safeParse(out).success).toBe(true);
  expect(["send", "typing", "read", "ping"]).toContain(out.type);
  if (out.type === "send") {
    expect(out.clientMessageId).toMatch(KEY_RE);
    expect(typeof out.body).toBe("string");
    if (out.meta !== undefined) {
      expect(typeof out.meta).toBe("object");
      expect(Array.isArray(out.meta)).toBe(false);
      expect(depth(out.meta)).toBeLessThanOrEqual(8);
    }
  }
  if (out.type === "read") {
    expect(Number.isSafeInteger(out.seq)).toBe(true);
    expect(out.seq).toBeGreaterThanOrEqual(0);
  }
}

describe("fuzz: parsers in process", () => {
  it("parseClientFrame never throws: arbitrary text, JSON and frame-like documents give a valid frame or { error }", () => {
    fc.assert(
      fc.property(frameText, (text) => {
        checkFrame(text);
      }),
      { numRuns: RUNS },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("the zod schemas never throw on anything (null prototypes, bigints, maps, sparse arrays, prototype keys)", () => {
    const anything = fc.anything({
      maxDepth: 6,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      withUnicodeString: true,
      key: fc.oneof(fc.string(), protoKeys),
    });
    const schemas = [
      sendInputSchema,
      readInputSchema,
      clientFrameSchema,
      metaSchema,
      conversationIdSchema,
      userIdSchema,
      clientMessageIdSchema,
    ];
    fc.assert(
      fc.property(anything, fc.oneof(anything, frameLike), (a, b) => {
        for (const s of schemas) {
          for (const v of [a, b]) {
            const r = s.safeParse(v);
            expect(typeof r.success).toBe("boolean");
            if (r.success && s === metaSchema) expect(depth(r.data)).toBeLessThanOrEqual(8);
          }
        }
      }),
      { numRuns: RUNS },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });

  it("checkBodySize accepts exactly the bodies within the byte limit and throws only too_large", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), fc.nat({ max: 900 }), (body, max) => {
        const bytes = new TextEncoder().encode(body).byteLength;
        try {
          checkBodySize(body, max);
          expect(bytes).toBeLessThanOrEqual(max);
        } catch (e) {
          expect(isParleyError(e) && e.code === "too_large").toBe(true);
          expect(bytes).toBeGreaterThan(max);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

const w = useServer({
  env: {
    PARLEY_SEND_RATE: "100000",
    PARLEY_SEND_BURST: "100000",
    PARLEY_FRAME_RATE: "100000",
    PARLEY_FRAME_BURST: "100000",
  },
});

const ALLOWED = [200, 201, 204, 400, 403, 404, 409, 413, 415];

describe("fuzz: against the running relay", () => {
  it(`${SERVER_RUNS} fuzzed HTTP bodies, content types and routes: never a 5xx, acked sends stored once, seqs gap-free`, async () => {
    const u = uid("fz");
    const conv = await w.conversation([u]);
    const user = await w.as(u);
    const acked = new Map<string, Message>();
    const body = fc.oneof(
      frameLike.map((f) => JSON.stringify(f)),
      fc
        .record({
          clientMessageId: validKey,
          body: nastyString,
          meta: fc.option(metaLike, { nil: undefined }),
        })
        .map((r) => JSON.stringify(r)),
      fc.json({ depthSize: "small" }),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc
        .record({ members: fc.array(fc.oneof(validKey, nastyString), { maxLength: 5 }), title: metaLike })
        .map((r) => JSON.stringify(r)),
    );
    const contentType = fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "application/x+json",
      "",
    );
    const route = fc.constantFrom("messages", "read", "typing", "create", "tokens", "messagesAsServer");
    await fc.assert(
      fc.asyncProperty(body, contentType, route, async (raw, type, r) => {
        const headers: Record<string, string> = type ? { "content-type": type } : { "content-type": "" };
        const res =
          r === "messages"
            ? await user.post(`/v1/conversations/${conv}/messages`, undefined, { raw, headers })
            : r === "read"
              ? await user.post(`/v1/conversations/${conv}/read`, undefined, { raw, headers })
              : r === "typing"
                ? await user.post(`/v1/conversations/${conv}/typing`, undefined, { raw, headers })
                : r === "create"
                  ? await w.admin.post("/v1/conversations", undefined, { raw, headers })
                  : r === "tokens"
                    ? await w.admin.post("/v1/tokens", undefined, { raw, headers })
                    : await w.admin.post(`/v1/conversations/${conv}/messages`, undefined, {
                        raw: raw.startsWith("{") ? `{"senderId":"${u}",${raw.slice(1)}` : raw,
                        headers,
                      });
        expect(
          ALLOWED,
          `${r} ${JSON.stringify(raw).slice(0, 120)} (${type}) → ${res.status} ${res.text.slice(0, 200)}`,
        ).toContain(res.status);
        if (res.status >= 400) {
          expect(res.json?.error?.code).toMatch(/^[a-z][a-z0-9_]*$/);
        }
        if ((r === "messages" || r === "messagesAsServer") && (res.status === 201 || res.status === 200)) {
          const m: Message = res.json.message;
          const prev = acked.get(m.clientMessageId);
          if (prev) expect(m).toEqual(prev);
          acked.set(m.clientMessageId, m);
        }
      }),
      { numRuns: SERVER_RUNS, interruptAfterTimeLimit: 40_000 },
    );
    const stored = await history(user, conv);
    expect(stored.map((m) => m.seq)).toEqual(range(1, stored.length));
    expect(stored.length).toBe(acked.size);
    for (const m of stored) expect(acked.get(m.clientMessageId)).toEqual(m);
    await expectIntactAndServing(w, conv, u, stored.length);
  });

  it(`${SERVER_RUNS} fuzzed socket frames on one socket: answered, never closed, acked sends stored once`, async () => {
    const u = uid("fzw");
    const conv = await w.conversation([u]);
    const ws = await rawSynced(w, u, conv);
    const samples = fc.sample(frameText, { numRuns: SERVER_RUNS, seed: Number(process.env.FUZZ_SEED ?? 42) });
    let sent = 0;
    for (const text of samples) {
      if (Buffer.byteLength(text) > 60_000) continue; // frames over the limit close with 1009 (tested elsewhere)
      ws.send(Op.text, text);
      sent++;
      if (sent % 50 === 0) await sleep(20);
    }
    ws.sendJson({ type: "ping" });
    await ws.waitFor((f) => f.type === "pong", 10_000, "final pong");
    await sleep(200);
    expect(ws.isClosed).toBe(false);
    const errors = ws.json.filter((f) => f.type === "error");
    for (const e of errors) expect(["bad_frame", "conflict", "too_large"]).toContain(e.code);
    const acks = ws.json.filter((f) => f.type === "ack").map((f) => f.message as Json);
    const stored = await history(await w.as(u), conv);
    expect(stored.map((m) => m.seq)).toEqual(range(1, stored.length));
    const ackedKeys = new Set(acks.map((m) => m.clientMessageId));
    expect(new Set(stored.map((m) => m.clientMessageId))).toEqual(ackedKeys);
    ws.destroy();
    await expectIntactAndServing(w, conv, u, stored.length);
    // And the relay still refuses what it must after all that.
    expect((await api(w.server.url, "garbage").get(`/v1/conversations/${conv}`)).status).toBe(401);
  });
});
