/** Random ids from the platform's crypto (browsers, Node ≥ 20 and Deno all have it). */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** 22 random characters of `[A-Za-z0-9_-]` (132 bits): a valid `clientMessageId`. */
export function newClientMessageId(): string {
  const bytes = new Uint8Array(22);
  crypto.getRandomValues(bytes);
  let out = "";
  for (const b of bytes) out += ALPHABET[b & 63];
  return out;
}

/** An id for one client instance (partysocket's `_pk`). */
export function newInstanceId(): string {
  return typeof crypto.randomUUID === "function" ? crypto.randomUUID() : newClientMessageId();
}
