/**
 * Hostile input, HTTP: wrong content types, oversized, lying and endless bodies, bad ids and
 * queries in paths, odd methods and headers, connections that never finish a request. Each gets
 * the contract's status (never a 5xx), nothing is stored, and the relay keeps serving.
 */
import http from "node:http";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { expectError, sleep, uid, useServer } from "../helpers/world.ts";
import { expectIntactAndServing, rssOf } from "./kit.ts";

const w = useServer({ env: { PARLEY_HANDSHAKE_TIMEOUT_MS: "1000" } });

const msgPath = (conv: string) => `/v1/conversations/${conv}/messages`;

async function setup(): Promise<{ conv: string; u: string }> {
  const u = uid("u");
  return { conv: await w.conversation([u]), u };
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTP request with the path sent exactly as given (fetch would normalize it). */
function rawRequest(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
  timeoutMs = 5000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: w.server.port, method, path, headers, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)),
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Writes `bytes` on a new connection; everything read until it closes (or `timeoutMs`). */
function rawExchange(bytes: string, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve) => {
    const s = net.connect(w.server.port, "127.0.0.1", () => s.write(bytes));
    let got = "";
    s.on("data", (d) => {
      got += d.toString("latin1");
    });
    s.on("close", () => resolve(got));
    s.on("error", () => resolve(got));
    setTimeout(() => {
      s.destroy();
      resolve(got);
    }, timeoutMs);
  });
}

/** The contract's error shape on a raw response. */
function expectErrorBody(res: RawResponse, statuses: number[], what: string): void {
  expect(statuses, `${what} → ${res.status} ${res.body.slice(0, 200)}`).toContain(res.status);
  const json = JSON.parse(res.body);
  expect(json.error.code).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(typeof json.error.message).toBe("string");
}

describe("content type and body size", () => {
  it("a body that is not declared JSON is 415, whatever it holds", async () => {
    const { conv, u } = await setup();
    const a = await w.as(u);
    const body = JSON.stringify({ clientMessageId: "k", body: "x" });
    for (const type of [
      "text/plain",
      "multipart/form-data; boundary=x",
      "application/xml",
      "application/jsonx",
      "text/json",
      "application/x-www-form-urlencoded",
      "json",
    ]) {
      const res = await a.post(msgPath(conv), undefined, { raw: body, headers: { "content-type": type } });
      expect(res.status, type).toBe(415);
      expectError(res, 415);
    }
    const none = await rawRequest(
      "POST",
      msgPath(conv),
      { authorization: `Bearer ${await w.token(u)}` },
      body,
    );
    expectErrorBody(none, [415], "no content type");
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a body over 64 KiB with its Content-Length is 413 at once", async () => {
    const { conv, u } = await setup();
    const started = Date.now();
    const res = await (await w.as(u)).post(msgPath(conv), {
      clientMessageId: "big",
      body: "x",
      meta: { pad: "p".repeat(200_000) },
    });
    expectError(res, 413);
    expect(Date.now() - started).toBeLessThan(3000);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a Content-Length of 10 GB with a tiny body is 413 without waiting for the bytes", async () => {
    const { conv, u } = await setup();
    const token = await w.token(u);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(w.server.port, "127.0.0.1", () => {
        s.write(
          `POST ${msgPath(conv)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
            "Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{",
        );
      });
      let got = "";
      s.on("data", (d) => {
        got += d.toString("latin1");
        if (got.includes("\r\n\r\n")) {
          s.destroy();
          resolve(got);
        }
      });
      s.on("error", reject);
      setTimeout(() => {
        s.destroy();
        resolve(got || "no answer");
      }, 3000);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("an endless chunked body gets 413 after a bounded read; the relay does not buffer it", async () => {
    const { conv, u } = await setup();
    const pid = w.server.proc.pid;
    const rssBefore = rssOf(pid);
    const token = await w.token(u);
    const chunk = Buffer.alloc(16 * 1024, 0x78);
    const framed = Buffer.concat([
      Buffer.from(`${chunk.length.toString(16)}\r\n`),
      chunk,
      Buffer.from("\r\n"),
    ]);
    const result = await new Promise<{ status: number; written: number; ms: number; how: string }>(
      (resolve) => {
        const started = Date.now();
        let written = 0;
        let answer = "";
        let settled = false;
        const s = net.connect(w.server.port, "127.0.0.1");
        const finish = (how: string) => {
          if (settled) return;
          settled = true;
          s.destroy();
          const m = /^HTTP\/1\.1 (\d{3}) /.exec(answer);
          resolve({ status: m ? Number(m[1]) : -1, written, ms: Date.now() - started, how });
        };
        s.on("data", (d) => {
          answer += d.toString("latin1");
          if (answer.includes("\r\n\r\n")) finish("answered");
        });
        s.on("error", (e) => finish(`error ${e.message}`));
        s.on("close", () => finish("closed"));
        const pump = () => {
          // Bounded: at most 256 MiB or 15 s, whichever first.
          while (!settled && written < 256 * 1024 * 1024 && Date.now() - started < 15_000) {
            written += framed.length;
            if (!s.write(framed)) {
              s.once("drain", pump);
              return;
            }
          }
          if (!settled) finish("gave up writing");
        };
        s.on("connect", () => {
          s.write(
            `POST ${msgPath(conv)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
              "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
          );
          pump();
        });
      },
    );
    console.log(
      `endless chunked body: ${result.how} ${result.status} after ${result.written} bytes in ${result.ms} ms`,
    );
    expect(result.status, `${result.how} after ${result.written} bytes in ${result.ms} ms`).toBe(413);
    // The answer came after the limit was passed, not after the client gave up; what was in
    // flight is socket buffers, not the relay's memory.
    expect(result.written).toBeLessThan(64 * 1024 * 1024);
    expect(result.ms).toBeLessThan(5000);
    const rssAfter = rssOf(pid);
    if (rssBefore !== null && rssAfter !== null) expect(rssAfter - rssBefore).toBeLessThan(64 * 1024 * 1024);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("Content-Length together with Transfer-Encoding (request smuggling shape) is refused", async () => {
    const { conv, u } = await setup();
    const token = await w.token(u);
    const answer = await rawExchange(
      `POST ${msgPath(conv)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        "Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "0\r\n\r\nPOST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
      2000,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
    expect(answer).not.toMatch(/HTTP\/1\.1 201/);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a 100 KB header, a 20 KB token, a request that is not HTTP: 431 and 400 with the JSON error body; the relay keeps serving", async () => {
    const { conv, u } = await setup();
    const res = await rawRequest("GET", msgPath(conv), {
      authorization: `Bearer ${await w.token(u)}`,
      "x-junk": "j".repeat(100_000),
    });
    expectErrorBody(res, [431], "a 100 KB header");
    expect(JSON.parse(res.body).error.code).toBe("too_large");
    // An oversized Authorization alone (a mistake, not an attack) gets the same words.
    const auth = await rawRequest("GET", msgPath(conv), { authorization: `Bearer ${"x".repeat(20_000)}` });
    expectErrorBody(auth, [431], "a 20 KB Authorization header");
    // A request line that is not HTTP: 400 with the contract's body.
    const garbage = await rawExchange("NOT HTTP AT ALL\r\n\r\n", 3000);
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(garbage.slice(garbage.indexOf("\r\n\r\n") + 4)).error.code).toBe("bad_request");
    await expectIntactAndServing(w, conv, u, 0);
  });
});

describe("bad ids and queries", () => {
  it("conversation ids: ../x, %00, 65 characters, spaces, unicode, bad percent-encoding are 400/404, never 5xx", async () => {
    const { conv, u } = await setup();
    const auth = { authorization: `Bearer ${await w.token(u)}`, "content-type": "application/json" };
    const body = JSON.stringify({ clientMessageId: "k", body: "x" });
    const ids = [
      "..%2Fx",
      "..%2F..%2Fhealthz",
      "%2e%2e",
      "%00",
      `${conv}%00`,
      "c".repeat(65),
      "a%20b",
      "%C3%A9t%C3%A9",
      "%ZZ",
      "%",
      `${conv}%2F..%2F${conv}`,
      "*",
    ];
    for (const id of ids) {
      for (const [method, path, b] of [
        ["POST", `/v1/conversations/${id}/messages`, body],
        ["GET", `/v1/conversations/${id}/messages`, undefined],
        ["GET", `/v1/conversations/${id}`, undefined],
        ["GET", `/v1/conversations/${id}/events`, undefined],
      ] as const) {
        const res = await rawRequest(method, path, auth, b);
        expectErrorBody(res, [400, 404], `${method} ${path}`);
      }
    }
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("member ids in the path: ../admin, %00, 129 characters, bad percent-encoding are 400, never 5xx", async () => {
    const { conv, u } = await setup();
    const auth = { authorization: `Bearer ${w.server.serverKey}` };
    for (const id of ["..%2Fadmin", "%00", "u".repeat(129), "a%20b", "%ZZ", "%F0%9F%98%80"]) {
      for (const method of ["PUT", "DELETE"]) {
        const res = await rawRequest(method, `/v1/conversations/${conv}/members/${id}`, auth);
        expectErrorBody(res, [400, 404], `${method} member ${id}`);
      }
    }
    const desc = await w.admin.get(`/v1/conversations/${conv}`);
    expect(desc.json.conversation.members.map((m: { userId: string }) => m.userId)).toEqual([u]);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("bad queries: forged cursors, both after and before, bad Last-Event-ID, bad dev-token user are 400", async () => {
    const { conv, u } = await setup();
    const a = await w.as(u);
    for (const cursor of [
      "garbage",
      "%%%",
      btoa("[1,2]"),
      btoa('{"a":1}'),
      btoa(JSON.stringify(["x".repeat(10), { o: 1 }])),
      btoa("[".repeat(5000)),
    ]) {
      expectError(await a.get(`/v1/conversations?cursor=${encodeURIComponent(cursor)}`), 400);
    }
    expectError(await a.get(`${msgPath(conv)}?after=1&before=2`), 400);
    expectError(await a.get(`${msgPath(conv)}?limit=abc`), 400);
    expectError(
      await a.get(`/v1/conversations/${conv}/events`, { headers: { "last-event-id": "abc" } }),
      400,
    );
    expectError(await a.get(`/v1/conversations/${conv}/events`, { headers: { "last-event-id": "-1" } }), 400);
    expectError(await a.get("/v1/dev/token?user=../root"), 400);
    expectError(await a.get(`/v1/dev/token?user=${"u".repeat(200)}`), 400);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("unknown routes and methods answer a JSON 404/405, never 5xx", async () => {
    const { conv, u } = await setup();
    const auth = { authorization: `Bearer ${await w.token(u)}` };
    for (const [method, path] of [
      ["PATCH", `/v1/conversations/${conv}`],
      ["DELETE", `/v1/conversations/${conv}`],
      ["PUT", msgPath(conv)],
      ["GET", "/v2/anything"],
      ["GET", "/v1/conversations/a/b/c/d/e"],
      ["POST", "/healthz"],
      ["TRACE", "/healthz"],
    ] as const) {
      const res = await rawRequest(method, path, auth).catch((e: Error) => ({
        status: -1,
        headers: {},
        body: e.message,
      }));
      expect(res.status, `${method} ${path}: ${res.body.slice(0, 100)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path}`).toBeLessThan(500);
    }
    await expectIntactAndServing(w, conv, u, 0);
  });
});

describe("connections that never finish a request", () => {
  /** Opens a TCP connection and reports when (if) the server drops it. */
  function idle(send?: (s: net.Socket) => void): Promise<{ droppedAfterMs: number }> {
    return new Promise((resolve) => {
      const started = Date.now();
      const s = net.connect(w.server.port, "127.0.0.1", () => send?.(s));
      let done = false;
      const finish = (ms: number) => {
        if (done) return;
        done = true;
        s.destroy();
        resolve({ droppedAfterMs: ms });
      };
      s.on("close", () => finish(Date.now() - started));
      s.on("error", () => finish(Date.now() - started));
      s.on("data", () => undefined);
      setTimeout(() => finish(-1), 4000);
    });
  }

  it("pending-handshake timeout (PARLEY_HANDSHAKE_TIMEOUT_MS=1000): silent and slowloris connections are dropped", async () => {
    const { conv, u } = await setup();
    const token = await w.token(u);
    const timers: NodeJS.Timeout[] = [];
    const results = await Promise.all([
      // Connects and says nothing.
      ...Array.from({ length: 20 }, () => idle()),
      // Starts an upgrade request and dribbles a header byte every 200 ms, never finishing.
      ...Array.from({ length: 5 }, () =>
        idle((s) => {
          s.write(`GET /parties/conversation/${conv}?token=${token} HTTP/1.1\r\nHost: x\r\n`);
          const t = setInterval(() => s.writable && s.write("X"), 200);
          timers.push(t);
        }),
      ),
      // Starts an API request and never ends its headers.
      ...Array.from({ length: 5 }, () =>
        idle((s) => s.write(`GET ${msgPath(conv)} HTTP/1.1\r\nHost: x\r\n`)),
      ),
    ]);
    for (const t of timers) clearInterval(t);
    const dropped = results.map((r) => r.droppedAfterMs);
    for (const ms of dropped) {
      expect(ms, `dropped after ${ms} ms (-1: still open after 4 s)`).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(3500);
    }
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("200 idle connections do not stop the relay from serving meanwhile", async () => {
    const { conv, u } = await setup();
    const sockets = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(w.server.port, "127.0.0.1", () => resolve(s));
            s.on("error", () => undefined);
          }),
      ),
    );
    try {
      await expectIntactAndServing(w, conv, u, 0);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await sleep(50);
  });
});
