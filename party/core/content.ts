import type { Message, SendInput } from "./types.ts";

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` compare equal. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

/**
 * Whether a retried send carries the same content as the stored or pending one (else: 409):
 * its body, its meta and what it replies to.
 */
export function sameContent(a: Pick<Message, "body" | "meta" | "replyTo">, b: SendInput): boolean {
  if (a.body !== b.body) return false;
  if ((a.replyTo ?? undefined) !== (b.replyTo ?? undefined)) return false;
  if (a.meta === undefined || b.meta === undefined) return a.meta === b.meta;
  return canonical(a.meta) === canonical(b.meta);
}

/** The answer to a key used again with other content. */
export const CONFLICTING_KEY = "this clientMessageId was already used with a different body, meta or replyTo";

/** The idempotency key of a message: unique per (conversation, sender). */
export const idempotencyKey = (senderId: string, clientMessageId: string) =>
  `${senderId}\u0000${clientMessageId}`;
