import type { Message, ServerFrame } from "./types.ts";

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

const isSeq = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** True when `v` looks like a contract message (the fields the SDK relies on). */
export function isMessage(v: unknown): v is Message {
  return (
    isObject(v) &&
    typeof v.id === "string" &&
    typeof v.conversationId === "string" &&
    isSeq(v.seq) &&
    v.seq > 0 &&
    typeof v.senderId === "string" &&
    typeof v.clientMessageId === "string" &&
    typeof v.body === "string"
  );
}

/**
 * Parses one server frame. Unknown or malformed frames give null and are ignored: a newer
 * server may add frame types, and an SDK must not break on them.
 */
export function parseServerFrame(text: string): ServerFrame | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(v) || typeof v.type !== "string") return null;
  switch (v.type) {
    case "message":
      return isMessage(v.message) ? (v as ServerFrame) : null;
    case "synced":
      return isSeq(v.lastSeq) ? (v as ServerFrame) : null;
    case "typing":
      return typeof v.userId === "string" && typeof v.expiresAt === "string" ? (v as ServerFrame) : null;
    case "read":
      return typeof v.userId === "string" && isSeq(v.seq) ? (v as ServerFrame) : null;
    case "presence":
      return Array.isArray(v.online) && v.online.every((u) => typeof u === "string")
        ? (v as ServerFrame)
        : null;
    case "ack":
      return typeof v.clientMessageId === "string" && isMessage(v.message) ? (v as ServerFrame) : null;
    case "pong":
      return { type: "pong" };
    case "error":
      return typeof v.code === "string" ? (v as ServerFrame) : null;
    case "thread":
      return isObject(v.conversation) && typeof v.conversation.id === "string" ? (v as ServerFrame) : null;
    default:
      return null;
  }
}
