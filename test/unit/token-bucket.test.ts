import { describe, expect, it } from "vitest";
import { sameContent } from "../../party/core/content.ts";
import { TokenBucket } from "../../party/core/token-bucket.ts";

describe("TokenBucket", () => {
  it("allows the burst, then refills at the rate", () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 0]);
    expect(bucket.take(0)).toBeCloseTo(0.5);
    expect(bucket.take(499)).toBeGreaterThan(0);
    expect(bucket.take(1000)).toBe(0);
  });
});

describe("sameContent", () => {
  it("compares body and meta, ignoring key order", () => {
    expect(
      sameContent(
        { body: "a", meta: { x: 1, y: [1, { z: 2 }] } },
        { clientMessageId: "k", body: "a", meta: { y: [1, { z: 2 }], x: 1 } },
      ),
    ).toBe(true);
    expect(sameContent({ body: "a" }, { clientMessageId: "k", body: "b" })).toBe(false);
    expect(sameContent({ body: "a" }, { clientMessageId: "k", body: "a", meta: {} })).toBe(false);
    expect(
      sameContent({ body: "a", meta: { x: 1 } }, { clientMessageId: "k", body: "a", meta: { x: 2 } }),
    ).toBe(false);
  });
});
