/** When `auto` falls back: only on failures while plain HTTP works, not after a relay restart. */
import { describe, expect, it } from "vitest";
import { FallbackPolicy } from "../../client/fallback-policy.ts";

const up = async () => true;
const down = async () => false;

describe("fallback policy", () => {
  it("a relay that was down and comes back: no fallback, the transport is tried again", async () => {
    const policy = new FallbackPolicy(2);
    policy.failed(); // refused while the relay restarts
    policy.failed();
    // The next attempt finds HTTP answering again: those failures were not the transport's.
    expect(await policy.shouldFallBack(up)).toBe(false);
    expect(await policy.shouldFallBack(up)).toBe(false); // nothing counted since
    policy.succeeded();
    policy.failed();
    policy.failed();
    expect(await policy.shouldFallBack(up)).toBe(false);
  });

  it("a transport a proxy blocks: falls back once it keeps failing with HTTP seen working", async () => {
    const policy = new FallbackPolicy(2);
    const asked: boolean[] = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      const fallBack = await policy.shouldFallBack(up);
      asked.push(fallBack);
      if (fallBack) break;
      policy.failed();
    }
    // Two failures, HTTP seen up; two more with HTTP up: fall back on the fifth attempt.
    expect(asked).toEqual([false, false, false, false, true]);
  });

  it("failures while HTTP is down never lead to a fallback", async () => {
    const policy = new FallbackPolicy(2);
    for (let attempt = 0; attempt < 20; attempt++) {
      expect(await policy.shouldFallBack(down)).toBe(false);
      policy.failed();
    }
  });

  it("does not probe HTTP before enough failures", async () => {
    const policy = new FallbackPolicy(2);
    let probes = 0;
    const counting = async () => {
      probes++;
      return true;
    };
    policy.failed();
    expect(await policy.shouldFallBack(counting)).toBe(false);
    expect(probes).toBe(0);
  });
});
