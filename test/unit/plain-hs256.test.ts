/**
 * The synchronous check of plain HS256 tokens (party/host/plain-hs256.ts) only ever accepts
 * what jose accepts with auth.ts's options, with the same claims: for every token here, plain
 * and odd, valid and not, either it declines (undefined: jose decides) or jose verifies the
 * token to the same payload. And it does accept the plain tokens apps sign.
 */
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { Authenticator } from "../../party/host/auth.ts";
import { type HmacSha256, plainHs256Claims } from "../../party/host/plain-hs256.ts";

const SECRET = "a-test-secret-of-at-least-32-bytes-long!";
const key = new TextEncoder().encode(SECRET);
const hmac: HmacSha256 = (k, data) => createHmac("sha256", k).update(data).digest();
const LEEWAY = 60;
const now = () => Math.floor(Date.now() / 1000);
const b64url = (text: string | Uint8Array) => Buffer.from(text).toString("base64url");

/** A compact JWS with exactly this header and payload text, signed (HS256) with `secret`. */
function hand(header: unknown, payload: string, secret: Uint8Array = key): string {
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(payload)}`;
  return `${signingInput}.${b64url(hmac(secret, signingInput))}`;
}

/** jose's answer with auth.ts's options: the payload, or null when it refuses. */
async function joseClaims(token: string): Promise<Record<string, unknown> | null> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      requiredClaims: ["exp", "sub"],
      clockTolerance: LEEWAY,
    });
    return payload as Record<string, unknown>;
  } catch {
    return null;
  }
}

async function expectNoLooserThanJose(token: string): Promise<Record<string, unknown> | undefined> {
  const fast = plainHs256Claims(token, key, hmac, now(), LEEWAY);
  if (fast !== undefined) expect(fast).toEqual(await joseClaims(token));
  return fast;
}

describe("plain HS256 tokens, checked synchronously", () => {
  it("accepts the plain tokens apps sign, with jose's claims", async () => {
    const signed = await new SignJWT({ name: "Ann", picture: "https://example.com/a.png" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject("ann")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(key);
    expect(await expectNoLooserThanJose(signed)).toMatchObject({ sub: "ann", name: "Ann" });
    const bare = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("b")
      .setExpirationTime("5m")
      .sign(key);
    expect(await expectNoLooserThanJose(bare)).toMatchObject({ sub: "b" });
  });

  it("declines everything odd or invalid", async () => {
    const t = now();
    const other = new TextEncoder().encode("another-secret-of-at-least-32-bytes-long");
    const cases: Record<string, string> = {
      garbage: "not-a-jwt",
      "two parts": "a.b",
      "four parts": `${hand({ alg: "HS256" }, JSON.stringify({ sub: "u", exp: t + 60 }))}.x`,
      "bad signature": hand({ alg: "HS256" }, JSON.stringify({ sub: "u", exp: t + 60 }), other),
      "alg none": `${b64url(JSON.stringify({ alg: "none" }))}.${b64url(JSON.stringify({ sub: "u", exp: t + 60 }))}.`,
      HS512: hand({ alg: "HS512" }, JSON.stringify({ sub: "u", exp: t + 60 })),
      "kid in the header": hand({ alg: "HS256", kid: "k1" }, JSON.stringify({ sub: "u", exp: t + 60 })),
      "crit in the header": hand(
        { alg: "HS256", crit: ["b64"], b64: true },
        JSON.stringify({ sub: "u", exp: t + 60 }),
      ),
      "b64 false": hand({ alg: "HS256", b64: false }, JSON.stringify({ sub: "u", exp: t + 60 })),
      "typ not a string": hand({ alg: "HS256", typ: 1 }, JSON.stringify({ sub: "u", exp: t + 60 })),
      "expired beyond leeway": hand({ alg: "HS256" }, JSON.stringify({ sub: "u", exp: t - LEEWAY - 5 })),
      "expired exactly at the leeway": hand({ alg: "HS256" }, JSON.stringify({ sub: "u", exp: t - LEEWAY })),
      "exp missing": hand({ alg: "HS256" }, JSON.stringify({ sub: "u" })),
      "exp a string": hand({ alg: "HS256" }, JSON.stringify({ sub: "u", exp: String(t + 60) })),
      "sub missing": hand({ alg: "HS256" }, JSON.stringify({ exp: t + 60 })),
      "sub a number": hand({ alg: "HS256" }, JSON.stringify({ sub: 7, exp: t + 60 })),
      "nbf in the future": hand(
        { alg: "HS256" },
        JSON.stringify({ sub: "u", exp: t + 600, nbf: t + LEEWAY + 5 }),
      ),
      "nbf a string": hand({ alg: "HS256" }, JSON.stringify({ sub: "u", exp: t + 60, nbf: "0" })),
      "iat a string": hand({ alg: "HS256" }, JSON.stringify({ sub: "u", exp: t + 60, iat: "0" })),
      "payload an array": hand({ alg: "HS256" }, JSON.stringify([{ sub: "u", exp: t + 60 }])),
      "payload not JSON": hand({ alg: "HS256" }, "{sub:"),
      "header an array": hand(["HS256"], JSON.stringify({ sub: "u", exp: t + 60 })),
      "padding in a segment": hand({ alg: "HS256" }, JSON.stringify({ sub: "u", exp: t + 60 })).replace(
        /$/,
        "=",
      ),
    };
    for (const [name, token] of Object.entries(cases)) {
      expect(plainHs256Claims(token, key, hmac, t, LEEWAY), name).toBeUndefined();
    }
  });

  it("never accepts what jose refuses, over arbitrary headers and claims", async () => {
    const t = now();
    const value = fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: t - 400, max: t + 400 }),
      fc.double({ noNaN: true }),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { alg: fc.constantFrom("HS256", "HS384", "none", "hs256"), typ: value, kid: value },
          { requiredKeys: ["alg"] },
        ),
        fc.record({ sub: fc.oneof(fc.string(), value), exp: value, nbf: value, iat: value, name: value }),
        fc.boolean(),
        async (header, claims, rightKey) => {
          const token = hand(header, JSON.stringify(claims), rightKey ? key : new Uint8Array(32));
          await expectNoLooserThanJose(token);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("the Authenticator takes the same user from either path", async () => {
    const token = await new SignJWT({ name: "Cy" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject("cy")
      .setExpirationTime("1h")
      .sign(key);
    const apps = [{ id: "default", secret: SECRET, serverKey: "sk_test" }];
    const fast = await new Authenticator(apps, LEEWAY, undefined, hmac).verifyUserToken(token);
    const viaJose = await new Authenticator(apps, LEEWAY).verifyUserToken(token);
    expect(fast).toEqual(viaJose);
    expect(fast).toMatchObject({ kind: "user", app: "default", userId: "cy", name: "Cy" });
  });

  it("chooses the secret by the token's app claim, and answers as jose does when it cannot", async () => {
    const other = "another-secret-of-at-least-32-bytes-long";
    const apps = [
      { id: "default", secret: SECRET, serverKey: "sk_test" },
      { id: "acme", secret: other, serverKey: "sk_acme" },
    ];
    const sign = (claims: Record<string, unknown>, secret: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject("dee")
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(secret));
    const answer = (auth: Authenticator, token: string) =>
      auth.verifyUserToken(token).then(
        (user) => ({ user }),
        (error: Error) => ({ refused: error.message }),
      );
    const tokens = [
      await sign({ app: "acme" }, other),
      await sign({ app: "acme" }, SECRET), // signed with another app's secret
      await sign({}, other), // no app claim: the default app's secret
      await sign({ app: "nobody" }, other),
      await sign({ app: 7 }, other),
    ];
    const answers = [];
    for (const token of tokens) {
      const fast = await answer(new Authenticator(apps, LEEWAY, undefined, hmac), token);
      expect(fast).toEqual(await answer(new Authenticator(apps, LEEWAY), token));
      answers.push(fast);
    }
    expect(answers[0]).toMatchObject({ user: { app: "acme", userId: "dee" } });
    for (const refused of answers.slice(1)) expect(refused).toHaveProperty("refused");
  });
});
