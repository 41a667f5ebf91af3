const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ID_LENGTH = 22;
/** Random bytes are drawn 4 KiB at a time: one crypto call per ~180 ids, not one per id. */
const pool = new Uint8Array(4096);
let offset = pool.length;

/** A random id: `prefix` + 22 base62 characters (~131 bits), from the web crypto API. */
export function randomId(prefix: string): string {
  if (offset + ID_LENGTH > pool.length) {
    crypto.getRandomValues(pool);
    offset = 0;
  }
  let out = prefix;
  for (let i = 0; i < ID_LENGTH; i++) out += ALPHABET[(pool[offset + i] as number) % 62];
  offset += ID_LENGTH;
  return out;
}
