const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A random id: `prefix` + 22 base62 characters (~131 bits), from the web crypto API. */
export function randomId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(22));
  let out = prefix;
  for (const b of bytes) out += ALPHABET[b % 62];
  return out;
}
