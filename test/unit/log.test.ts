/** The two loggers write the same JSON shape, and neither writes a credential-bearing field. */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { jsonLineLogger, type LogLevel, requestIdOf, urlForLog } from "../../party/core/log.ts";
import { pinoLogger } from "../../party/node/logger.ts";

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

const leaky = {
  app: "default",
  token: "tok-SECRET-1",
  authorization: "Bearer tok-SECRET-2",
  secret: "whsec_SECRET-3",
  serverKey: "sk_SECRET-4",
  url: "https://x.test/?token=tok-SECRET-5",
  headers: { authorization: "Bearer tok-SECRET-6" },
  body: { secret: "SECRET-7" },
  request: { authorization: "Bearer tok-SECRET-8", token: "tok-SECRET-9" },
};

describe("the loggers", () => {
  const edge = (level: LogLevel) => {
    const lines: string[] = [];
    return {
      lines,
      log: jsonLineLogger(
        () => level,
        (l) => lines.push(l),
      ),
    };
  };

  it("write one JSON object per line: level, time, msg, fields, err", () => {
    const { lines, stream } = capture();
    pinoLogger("debug", stream).error({ reqId: "r1", app: "a", err: new Error("boom") }, "it failed");
    const e = edge("debug");
    e.log.error({ reqId: "r1", app: "a", err: new Error("boom") }, "it failed");
    for (const line of [lines[0], e.lines[0]]) {
      const o = JSON.parse(line ?? "");
      expect(o).toMatchObject({ level: "error", reqId: "r1", app: "a", msg: "it failed" });
      expect(Number.isNaN(Date.parse(o.time))).toBe(false);
      expect(o.err).toMatchObject({ type: "Error", message: "boom" });
      expect(o.err.stack).toContain("boom");
    }
  });

  it("filter by level", () => {
    const { lines, stream } = capture();
    const p = pinoLogger("warn", stream);
    const e = edge("warn");
    for (const log of [p, e.log]) {
      log.debug({}, "d");
      log.info({}, "i");
      log.warn({}, "w");
      log.error({}, "e");
    }
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["w", "e"]);
    expect(e.lines.map((l) => JSON.parse(l).msg)).toEqual(["w", "e"]);
    const silent = edge("silent");
    silent.log.error({}, "e");
    expect(silent.lines).toEqual([]);
  });

  it("drop credential-bearing fields (pino's redact on Node, the same names on the edge)", () => {
    const { lines, stream } = capture();
    pinoLogger("info", stream).info(leaky, "m");
    expect(lines.join("")).not.toContain("SECRET");
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ app: "default", msg: "m" });
    const e = edge("info");
    e.log.info({ app: "default", token: "tok-SECRET-1", authorization: "x-SECRET", url: "u?SECRET" }, "m");
    expect(e.lines.join("")).not.toContain("SECRET");
  });
});

describe("request ids and URLs", () => {
  it("a sane incoming request id is kept; anything else is replaced by a UUID", () => {
    expect(requestIdOf("abc-123_x.y:z")).toBe("abc-123_x.y:z");
    for (const bad of [undefined, null, "", "a b", "x".repeat(65), "<script>", "a\nb", "é"]) {
      expect(requestIdOf(bad)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  it("a URL for the log has no query, fragment or user info", () => {
    expect(urlForLog("https://u:p@hook.test/a/b?token=t#f")).toBe("https://hook.test/a/b");
    expect(urlForLog("http://127.0.0.1:80/x")).toBe("http://127.0.0.1:80/x");
  });
});
