/**
 * The SDK's TokenSource replaces a token from a function shortly before it expires, judged by
 * the token's lifetime (`exp - iat`) from when it arrived, so a device whose clock is off by
 * more than a token lives neither asks on every call nor waits for the 401.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TokenSource } from "../../client/token.ts";

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
/** A JWT-shaped token (unsigned: the SDK never verifies; the relay does). */
const tokenOf = (claims: Record<string, unknown>) => `${b64url({ alg: "HS256" })}.${b64url(claims)}.sig`;

/** A provider minting tokens of `lifetimeS`, stamped with the given server clock (seconds). */
function minting(lifetimeS: number | undefined, serverNowS: () => number) {
  const made: string[] = [];
  let fail = false;
  const provider = async () => {
    if (fail) throw new Error("token endpoint down");
    const iat = serverNowS();
    const token = tokenOf({
      sub: "ann",
      n: made.length,
      ...(lifetimeS === undefined ? { exp: iat + 3600 } : { iat, exp: iat + lifetimeS }),
    });
    made.push(token);
    return token;
  };
  return {
    provider,
    made,
    failing(on: boolean) {
      fail = on;
    },
  };
}

describe("TokenSource: early renewal", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_800_000_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it("keeps a token for nine tenths of its lifetime, then asks once for the next", async () => {
    const p = minting(100, () => Math.floor(Date.now() / 1000));
    const source = new TokenSource(p.provider);
    expect(await source.get()).toBe(p.made[0]);
    vi.advanceTimersByTime(89_000);
    expect(await source.get()).toBe(p.made[0]);
    expect(p.made).toHaveLength(1);
    vi.advanceTimersByTime(2_000);
    const [a, b] = await Promise.all([source.get(), source.get()]);
    expect(p.made).toHaveLength(2);
    // The call that noticed waits for the new one; one made meanwhile may still use the old.
    expect(a).toBe(p.made[1]);
    expect([p.made[0], p.made[1]]).toContain(b);
    expect(await source.get()).toBe(p.made[1]);
    expect(p.made).toHaveLength(2);
  });

  it("a long lifetime is renewed a minute before its end, not a tenth", async () => {
    const p = minting(3600, () => Math.floor(Date.now() / 1000));
    const source = new TokenSource(p.provider);
    await source.get();
    vi.advanceTimersByTime(3_539_000);
    await source.get();
    expect(p.made).toHaveLength(1);
    vi.advanceTimersByTime(2_000);
    expect(await source.get()).toBe(p.made[1]);
  });

  it("a device clock two hours ahead of the relay's neither asks on every call nor sooner", async () => {
    const p = minting(600, () => Math.floor(Date.now() / 1000) - 7200);
    const source = new TokenSource(p.provider);
    for (let i = 0; i < 5; i++) await source.get();
    vi.advanceTimersByTime(500_000);
    for (let i = 0; i < 5; i++) await source.get();
    expect(p.made).toHaveLength(1);
    vi.advanceTimersByTime(41_000);
    await source.get();
    expect(p.made).toHaveLength(2);
  });

  it("when the next cannot be had, the current one is used, and asked for again only on a refusal", async () => {
    const p = minting(100, () => Math.floor(Date.now() / 1000));
    const source = new TokenSource(p.provider);
    const first = await source.get();
    vi.advanceTimersByTime(95_000);
    p.failing(true);
    expect(await source.get()).toBe(first);
    expect(await source.get()).toBe(first);
    // The relay refused it: now the failure is the caller's to see.
    await expect(source.refresh(first)).rejects.toThrow(/token endpoint down/);
    p.failing(false);
    expect(await source.refresh(first)).toBe(p.made[1]);
  });

  it("a token without iat, or a fixed string, is never replaced early", async () => {
    const p = minting(undefined, () => Math.floor(Date.now() / 1000));
    const source = new TokenSource(p.provider);
    await source.get();
    vi.advanceTimersByTime(4_000_000);
    await source.get();
    expect(p.made).toHaveLength(1);
    const fixed = tokenOf({ sub: "ann", iat: 1, exp: 2 });
    const constant = new TokenSource(fixed);
    vi.advanceTimersByTime(10_000);
    expect(await constant.get()).toBe(fixed);
  });
});
