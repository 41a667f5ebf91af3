/** The relay's count of HTTP answers in progress, which a shutdown waits for (relay.close). */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { InflightRequests } from "../../party/node/inflight-requests.ts";

describe("in-flight requests", () => {
  it("is drained at once with nothing open", async () => {
    expect(await new InflightRequests().drained(10_000)).toBe(true);
  });

  it("waits until every tracked answer has closed, once each", async () => {
    const inflight = new InflightRequests();
    const answers = [new EventEmitter(), new EventEmitter(), new EventEmitter()];
    for (const res of answers) inflight.track(res);
    const drained = inflight.drained(10_000);
    let settled = false;
    void drained.then(() => {
      settled = true;
    });
    answers[0]?.emit("close");
    answers[0]?.emit("close"); // a second close of the same answer counts nothing
    answers[1]?.emit("close");
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    answers[2]?.emit("close");
    expect(await drained).toBe(true);
  });

  it("gives up after its timeout when an answer stays open", async () => {
    const inflight = new InflightRequests();
    inflight.track(new EventEmitter());
    const started = Date.now();
    expect(await inflight.drained(100)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});
