/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com), with WebCrypto only, so the
 * relay signs the same way on Node, Deno and the edge: `webhook-id`, `webhook-timestamp`
 * (seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by
 * the base64 part of a `whsec_…` secret. The `standardwebhooks` and `svix` libraries verify it;
 * `verifyWebhook` is the same check for receivers that would rather not add one.
 */

const SECRET_PREFIX = "whsec_";
const encoder = new TextEncoder();

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** A new secret: `whsec_` and 32 random bytes in base64 (the spec allows 24 to 64). */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** The key bytes of a `whsec_…` secret; undefined when it is not one (or too short to be safe). */
export function secretKeyBytes(secret: string): Uint8Array<ArrayBuffer> | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) return undefined;
  const key = fromBase64(secret.slice(SECRET_PREFIX.length));
  return key && key.byteLength >= 24 && key.byteLength <= 64 ? key : undefined;
}

/**
 * Imported keys, by secret. The key is kept, never the promise of it: on the edge one isolate
 * runs many Durable Objects, and a promise made in one object's I/O context cannot be awaited
 * from another's (workerd threw "Cannot perform I/O on behalf of a different Durable Object"
 * and an internal error for the second room to sign with the same secret). Two callers that
 * come before the first import finished each import once.
 */
const keys = new Map<string, CryptoKey>();

/** The HMAC key of a secret, imported once per secret (a delivery loop signs many events). */
async function hmacKey(secret: string): Promise<CryptoKey> {
  const kept = keys.get(secret);
  if (kept) return kept;
  const bytes = secretKeyBytes(secret);
  if (!bytes) throw new Error("not a whsec_ secret of 24 to 64 bytes");
  const key = await crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  // A handful of endpoints per app: the map stays small; a deleted one's key is dropped at the cap.
  if (keys.size >= 1_000) keys.clear();
  keys.set(secret, key);
  return key;
}

/** Base64 HMAC-SHA256 of `content` (`id.timestamp.body`), with WebCrypto. */
export async function signatureOf(secret: string, content: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(content));
  return toBase64(new Uint8Array(mac));
}

/**
 * The three headers of one signed request. `timestamp` is in seconds. `sign` computes the
 * signature (WebCrypto unless the host has a faster one: see hashes.ts).
 */
export async function signedHeaders(
  secret: string,
  id: string,
  timestamp: number,
  body: string,
  sign: (secret: string, content: string) => string | Promise<string> = signatureOf,
): Promise<Record<string, string>> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${await sign(secret, `${id}.${timestamp}.${body}`)}`,
  };
}

/** Constant-time comparison of two strings of base64 (their lengths are not secret). */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/** How a request's headers are read: a `Headers`, or Node's lower-cased header object. */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * For receivers: checks a delivery's signature and age (default: at most 5 minutes off), and
 * returns the parsed event; throws an Error saying what is wrong otherwise. Pass the body
 * exactly as received (the raw text, before any JSON parsing).
 */
export async function verifyWebhook<T = unknown>(
  secret: string,
  headers: HeaderSource,
  body: string,
  options: { toleranceSeconds?: number; now?: number } = {},
): Promise<T> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures)
    throw new Error("missing webhook-id, webhook-timestamp or webhook-signature");
  const seconds = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp)) throw new Error("webhook-timestamp is not a number of seconds");
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - seconds) > (options.toleranceSeconds ?? 300))
    throw new Error("webhook-timestamp is too old or too new");
  const expected = await signatureOf(secret, `${id}.${seconds}.${body}`);
  // The header may carry several signatures (a rotated secret): one match is enough.
  const matches = signatures
    .split(" ")
    .some((entry) => entry.startsWith("v1,") && sameText(entry.slice(3), expected));
  if (!matches) throw new Error("no webhook-signature matches this secret");
  return JSON.parse(body) as T;
}
