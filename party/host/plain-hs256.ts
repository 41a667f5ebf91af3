/**
 * A synchronous check of the plainest HS256 user tokens, for runtimes that have a synchronous
 * HMAC (Node's `node:crypto`). Web standards have only `crypto.subtle`, whose every call is a
 * round trip through a thread pool: on the 2-core bench machine a `subtle.verify` of a token
 * costs 60-140 µs of CPU, a synchronous HMAC under 10. After a restart every socket's first
 * token is verified, so a reconnect storm is mostly token checks.
 *
 * It only ever **accepts**: a token it does not find plain and valid in every respect gets
 * `undefined`, and the caller verifies it with jose, which decides and words the refusal. What
 * it accepts is a subset of what jose accepts with the options auth.ts passes (HS256 only,
 * `exp` and `sub` required, a clock tolerance): a header of only `alg: "HS256"` and `typ`,
 * a matching signature, a JSON object payload with a string `sub`, a numeric `exp` not past,
 * and `nbf` / `iat`, when present, numeric (`nbf` not in the future). Anything else (a `kid`,
 * `crit`, `b64`, another algorithm, a claim of the wrong type) goes to jose.
 */

/** HMAC-SHA256 of `data` (UTF-8) under `key`, computed synchronously by the runtime. */
export type HmacSha256 = (key: Uint8Array, data: string) => Uint8Array;

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Fails on bytes that are not UTF-8, as jose's decoder does. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The bytes of a base64url segment; undefined when it is not one. */
function base64url(segment: string): Uint8Array | undefined {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return undefined;
  try {
    const binary = atob(segment.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

/** A JSON object (not an array, not null) from base64url UTF-8; undefined otherwise. */
function jsonObject(segment: string): Record<string, unknown> | undefined {
  const bytes = base64url(segment);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Equal bytes, in time that depends only on the length. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/**
 * The claims of `token` when it is a plain, valid HS256 token under `secret` at `nowSeconds`
 * (with `toleranceSeconds` of clock leeway, as jose's `clockTolerance`); undefined when it is
 * anything else, valid or not.
 */
export function plainHs256Claims(
  token: string,
  secret: Uint8Array,
  hmac: HmacSha256,
  nowSeconds: number,
  toleranceSeconds: number,
): Record<string, unknown> | undefined {
  return plainHs256(token, () => secret, hmac, nowSeconds, toleranceSeconds);
}

/**
 * `plainHs256Claims` with the key chosen from the token's own claims (its app): the payload is
 * decoded once, for the choice and for the answer. `keyFor` returning undefined (no such app)
 * is a token this check does not accept.
 */
export function plainHs256(
  token: string,
  keyFor: (claims: Record<string, unknown>) => Uint8Array | undefined,
  hmac: HmacSha256,
  nowSeconds: number,
  toleranceSeconds: number,
): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [head, body, signature] = parts as [string, string, string];
  const header = jsonObject(head);
  if (header?.alg !== "HS256") return undefined;
  for (const key of Object.keys(header)) if (key !== "alg" && key !== "typ") return undefined;
  if (header.typ !== undefined && typeof header.typ !== "string") return undefined;
  const claims = jsonObject(body);
  if (!claims || typeof claims.sub !== "string") return undefined;
  const secret = keyFor(claims);
  if (!secret) return undefined;
  const given = base64url(signature);
  if (!given || !sameBytes(given, hmac(secret, `${head}.${body}`))) return undefined;
  if (!isNumber(claims.exp) || claims.exp <= nowSeconds - toleranceSeconds) return undefined;
  if (claims.nbf !== undefined && (!isNumber(claims.nbf) || claims.nbf > nowSeconds + toleranceSeconds))
    return undefined;
  if (claims.iat !== undefined && !isNumber(claims.iat)) return undefined;
  return claims;
}
