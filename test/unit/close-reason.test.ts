/** Close reasons fit the 123 bytes a close frame allows, cut on a character boundary. */
import { describe, expect, it } from "vitest";
import { closeReason } from "../../party/host/close-reason.ts";

describe("closeReason", () => {
  it("cuts by UTF-8 bytes, never inside a character", () => {
    const accents = closeReason("é".repeat(100)); // 200 bytes: `ws` threw on the UTF-16 cut (120 units)
    expect(Buffer.byteLength(accents)).toBeLessThanOrEqual(123);
    expect(accents).toBe("é".repeat(61));
    const emoji = closeReason("\u{1F600}".repeat(40)); // 4 bytes each, 2 UTF-16 units
    expect(Buffer.byteLength(emoji)).toBe(120);
    expect(emoji).toBe("\u{1F600}".repeat(30));
    expect(closeReason("short and plain")).toBe("short and plain");
    expect(Buffer.byteLength(closeReason("a".repeat(500)))).toBe(123);
  });
});
