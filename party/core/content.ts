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

/** Whether a retried send carries the same content as the stored message (else: 409). */
export function sameContent(a: Pick<Message, "body" | "meta">, b: SendInput): boolean {
  if (a.body !== b.body) return false;
  if (a.meta === undefined || b.meta === undefined) return a.meta === b.meta;
  return canonical(a.meta) === canonical(b.meta);
}

/** The idempotency key of a message: unique per (conversation, sender). */
export const idempotencyKey = (senderId: string, clientMessageId: string) =>
  `${senderId}\u0000${clientMessageId}`;
