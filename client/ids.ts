/** Random ids from the platform's crypto (browsers, Node ≥ 20 and Deno all have it). */

/**
 * The 64 characters of `[A-Za-z0-9_-]` in ASCII order: strings of them compare as the numbers
 * they spell. Random characters use it too (one alphabet: the widget's 30 KB budget).
 */
const SORTABLE = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/** Characters of the time at the front of a `clientMessageId` (48 bits of milliseconds). */
const TIME_CHARS = 8;
/** Random characters after it (84 bits). */
const RANDOM_CHARS = 14;

/**
 * A valid `clientMessageId`: 22 characters of `[A-Za-z0-9_-]`, the time (ms) in the first 8 so
 * that later keys sort after earlier ones, then 14 random (84 bits). Why the time: the relay's
 * idempotency index is ordered by key, so a group commit's new keys land together at its end
 * (a page or two per commit) instead of each on a page of its own.
 */
export function newClientMessageId(now: number = Date.now()): string {
  let time = "";
  let t = Math.max(0, Math.floor(now));
  for (let i = 0; i < TIME_CHARS; i++) {
    time = SORTABLE[t % 64] + time;
    t = Math.floor(t / 64);
  }
  return time + randomChars(RANDOM_CHARS);
}

/** `count` random characters of `[A-Za-z0-9_-]` (6 bits each). */
function randomChars(count: number): string {
  const bytes = new Uint8Array(count);
  crypto.getRandomValues(bytes);
  let out = "";
  for (const b of bytes) out += SORTABLE[b & 63];
  return out;
}

/** An id for one client instance (partysocket's `_pk`). */
export function newInstanceId(): string {
  // 22 characters: 132 bits.
  return typeof crypto.randomUUID === "function" ? crypto.randomUUID() : randomChars(22);
}
