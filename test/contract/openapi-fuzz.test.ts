/**
 * A property-based fuzz of every route, driven by the OpenAPI document the relay serves:
 * fast-check draws an operation, then its path and query parameters and its body from the
 * document's schemas (rendered from the zod schemas the relay validates with), mixed with ids
 * that exist (so requests get past "no such conversation") and with junk. Each request goes
 * through Prism's validating proxy (or Prism's validator; test/helpers/openapi-check.ts), once
 * with a user token and once with the server key. Any answer the document does not allow, any
 * 5xx, and any crash (the relay gone, or an unhandled error in its log) fails the run.
 * Bounded: at most RUNS requests and TIME_LIMIT_MS per credential.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Json } from "../helpers/clients.ts";
import { DocumentCheck, type Exchange } from "../helpers/openapi-check.ts";
import { arbitraryOf, type JsonSchema } from "../helpers/schema-arbitrary.ts";
import { uid, useServer } from "../helpers/world.ts";

/** Longer local hunts: PARLEY_FUZZ_RUNS=20000 PARLEY_FUZZ_MS=120000 npx vitest run test/contract/openapi-fuzz.test.ts */
const RUNS = Number(process.env.PARLEY_FUZZ_RUNS ?? 600);
const TIME_LIMIT_MS = Number(process.env.PARLEY_FUZZ_MS ?? 10_000);

const w = useServer({
  // Long-polls held 0.2 s at most; sends limited only far above what a run sends.
  env: { PARLEY_MAX_WAIT_SECONDS: "0.2", PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" },
});
let check: DocumentCheck;
let doc: Json;
const known: Record<string, string[]> = {};

beforeAll(async () => {
  doc = (await api(w.server.url, null).get("/v1/openapi.json")).json;
  check = await DocumentCheck.start(doc, w.server.url);
  // A conversation with messages, a reply and a reaction: requests that name them get past 404.
  const [ann, bob] = ["ann", "bob"];
  const conv = await w.conversation([ann, bob], { id: "fuzz" });
  const a = await w.as(ann);
  for (let i = 1; i <= 3; i++)
    await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `m${i}`, body: `m${i}` });
  await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "r", body: "re", replyTo: 1 });
  await a.put(`/v1/conversations/${conv}/messages/1/reactions/ok`);
  const hook = await w.admin.post("/v1/webhooks", { url: "http://127.0.0.1:9/hook" });
  Object.assign(known, {
    id: [conv, uid("none"), hook.json.webhook.id],
    seq: ["1", "2", "4", "0", "99"],
    userId: [ann, bob, "eve"],
    key: ["ok", "👍", "%F0%9F", "__proto__", "constructor"],
    file: ["swagger-ui.css", "init.js", "index.html", "..%2Fpackage.json"],
  });
});
afterAll(async () => {
  await check?.close();
});

type Operation = { method: string; path: string; op: Json };

function operations(): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const [method, op] of Object.entries<Json>(item))
      out.push({ method: method.toUpperCase(), path, op });
  }
  return out;
}

/** Text that is no value of any schema here: spaces, slashes, unicode, long digits. */
const junk = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" }),
  fc.constantFrom("-1", "1.5", "999999999999999999", "null", "%00", " ", "__proto__"),
);

/** A parameter's value: one that exists, one its schema allows, or junk. */
function parameterValue(name: string, schema: JsonSchema): fc.Arbitrary<string> {
  const fromSchema = arbitraryOf(schema, doc).map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
  const choices = [fromSchema, junk];
  if (known[name]) choices.unshift(fc.constantFrom(...(known[name] as string[])));
  return fc.oneof(...choices);
}

/** Webhook URLs stay on this machine: loopback, or not a URL at all. */
const webhookUrl = fc.constantFrom(
  "http://127.0.0.1:9/hook",
  "http://[::1]:9/",
  "not a url",
  "ftp://127.0.0.1/",
  "",
);

function requestOf({ method, path, op }: Operation, auth: string): fc.Arbitrary<Exchange> {
  const parameters: Json[] = op.parameters ?? [];
  const pathParams = parameters.filter((p) => p.in === "path");
  const queryParams = parameters.filter((p) => p.in === "query");
  const pathArb = fc.tuple(
    ...pathParams.map((p) =>
      parameterValue(p.name, p.schema)
        .filter((v) => v !== "" && v !== "." && v !== "..")
        // Already-encoded values (%F0…) are sent as they are.
        .map((v) => [p.name, /%[0-9A-F]{2}/.test(v) ? v : encodeURIComponent(v)] as const),
    ),
  );
  const queryArb = fc.tuple(
    ...queryParams.map((p) => fc.option(parameterValue(p.name, p.schema).map((v) => [p.name, v] as const))),
  );
  const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
  let bodyArb: fc.Arbitrary<Pick<Exchange, "body" | "raw" | "contentType">> = fc.constant({});
  if (bodySchema) {
    let valid = arbitraryOf(bodySchema, doc);
    if (path === "/v1/webhooks") {
      valid = fc.tuple(valid, webhookUrl).map(([b, url]) => ({ ...(b as object), url }));
    }
    bodyArb = fc.oneof(
      { weight: 4, arbitrary: valid.map((body) => ({ body })) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((body) => ({ body })) },
      {
        weight: 1,
        arbitrary: fc.string({ maxLength: 20 }).map((raw) => ({ raw, contentType: "text/plain" })),
      },
    );
  }
  return fc.tuple(pathArb, queryArb, bodyArb).map(([pathValues, queryValues, body]) => {
    let url = path;
    for (const [name, value] of pathValues) url = url.replace(`{${name}}`, value);
    const query = new URLSearchParams();
    for (const entry of queryValues) if (entry) query.append(entry[0], entry[1]);
    const search = query.toString();
    return { method, path: search ? `${url}?${search}` : url, auth, ...body };
  });
}

async function fuzz(auth: () => Promise<string>): Promise<{ runs: number; statuses: Map<number, number> }> {
  const credential = await auth();
  const perOperation = operations().map((o) => requestOf(o, credential));
  const requests = fc.oneof(...perOperation);
  // One drawn request of each operation first, so every one is tried however slow the machine.
  const firsts = perOperation.map((arbitrary) => fc.sample(arbitrary, 1) as [Exchange]);
  const statuses = new Map<number, number>();
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(requests, async (x) => {
      runs++;
      const res = await check.exchange(x);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.problems.length > 0) {
        throw new Error(
          `${x.method} ${x.path} ${x.raw ?? JSON.stringify(x.body) ?? ""} → ${res.status} ${res.text.slice(0, 300)}\n${res.problems.join("\n")}`,
        );
      }
    }),
    // No shrinking (each step is a request): the failing request is in the message as it was.
    {
      examples: firsts,
      numRuns: RUNS,
      interruptAfterTimeLimit: TIME_LIMIT_MS,
      markInterruptAsFailure: false,
      endOnFailure: true,
    },
  );
  return { runs, statuses };
}

describe("fuzz of every route from the document", () => {
  it("with a user token: every answer allowed by the document, no 5xx", {
    timeout: TIME_LIMIT_MS + 50_000,
  }, async () => {
    const { runs, statuses } = await fuzz(() => w.token("ann"));
    expect(runs).toBeGreaterThan(50);
    expect(
      [...statuses.keys()].some((s) => s >= 200 && s < 300),
      "some requests succeeded",
    ).toBe(true);
  });

  it("with the server key: every answer allowed by the document, no 5xx", {
    timeout: TIME_LIMIT_MS + 50_000,
  }, async () => {
    const { runs, statuses } = await fuzz(async () => w.server.serverKey);
    expect(runs).toBeGreaterThan(50);
    expect(
      [...statuses.keys()].some((s) => s >= 200 && s < 300),
      "some requests succeeded",
    ).toBe(true);
  });

  it("drew every operation of the document", () => {
    const ids = operations().map((o) => o.op.operationId as string);
    expect(ids.filter((id) => !check.seen.has(id))).toEqual([]);
  });

  it("left the relay serving, with no unhandled error in its log", async () => {
    expect((await api(w.server.url, null).get("/healthz")).status).toBe(200);
    expect(w.server.output()).not.toMatch(/unhandled rejection|uncaught exception|internal error/i);
  });
});
