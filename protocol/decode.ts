/**
 * Reading server frames, for the SDK (and for tests that check what the server sends). No
 * dependencies: this runs in the browser bundle. Unknown or malformed frames give null and are
 * ignored: a newer server may add frame types, and a client must not break on them.
 */
import type { ServerFrame, ServerFrameType } from "./frames.ts";
import type { Message } from "./shapes.ts";

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

const isSeq = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((u) => typeof u === "string");

/** True when `v` looks like a contract message (the fields a client relies on). */
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
 * One check per server frame type. The table is keyed by every type of `ServerFrame`, so a
 * frame added to the protocol without a decoder does not compile.
 */
const isChange = (v: unknown): boolean =>
  isObject(v) &&
  isSeq(v.seq) &&
  isSeq(v.target) &&
  typeof v.kind === "string" &&
  (v.userId === null || typeof v.userId === "string") &&
  typeof v.at === "string";

const checks: { [T in ServerFrameType]: (v: Record<string, unknown>) => boolean } = {
  message: (v) => isMessage(v.message),
  change: (v) => isChange(v.change) && isMessage(v.message),
  synced: (v) => isSeq(v.lastSeq),
  typing: (v) => typeof v.userId === "string" && typeof v.expiresAt === "string",
  read: (v) => typeof v.userId === "string" && isSeq(v.seq),
  presence: (v) => isStringList(v.online) || (isStringList(v.joined) && isStringList(v.left)),
  ack: (v) =>
    (v.clientMessageId === undefined || typeof v.clientMessageId === "string") &&
    (v.ref === undefined || typeof v.ref === "string") &&
    isMessage(v.message),
  pong: () => true,
  error: (v) => typeof v.code === "string" && typeof v.message === "string",
  thread: (v) => isObject(v.conversation) && typeof v.conversation.id === "string",
  thread_removed: (v) => typeof v.conversationId === "string",
};

/** Parses one server frame's JSON text; null when it is not a frame this protocol knows. */
export function parseServerFrame(text: string): ServerFrame | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(v) || typeof v.type !== "string" || !Object.hasOwn(checks, v.type)) return null;
  return checks[v.type as ServerFrameType](v) ? (v as ServerFrame) : null;
}
