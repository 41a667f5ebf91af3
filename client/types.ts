/** The shapes the relay speaks (see CONTRACT.md): messages, thread rows, pages and frames. */

import type { Message, ThreadItem } from "../party/core/types.ts";

/** A stored message and a thread-list row: the relay's own definitions (type-only, no code). */
export type { Message, ThreadItem };

/** `GET /v1/conversations/:id`. */
export interface ConversationInfo {
  id: string;
  title: string | null;
  lastSeq: number;
  members: Array<{ userId: string; lastReadSeq: number }>;
}

/** A page of history, always ascending by seq. */
export interface HistoryPage {
  messages: Message[];
  /** The conversation's last seq when the page was read. */
  lastSeq: number;
  /** With `after`: more above the page; with `before`: more below it. */
  hasMore: boolean;
}

/** A page of the thread list. */
export interface ThreadPage {
  conversations: ThreadItem[];
  nextCursor: string | null;
}

/** Server → client frames. */
export type ServerFrame =
  | { type: "message"; message: Message }
  | { type: "synced"; lastSeq: number }
  | { type: "typing"; userId: string; expiresAt: string }
  | { type: "read"; userId: string; seq: number }
  | { type: "presence"; online: string[] }
  | { type: "ack"; clientMessageId: string; message: Message }
  | { type: "pong" }
  | { type: "error"; code: string; message: string; clientMessageId?: string }
  | { type: "thread"; conversation: ThreadItem };

/** Client → server frames (conversation socket; the inbox socket takes only `ping`). */
export type ClientFrame =
  | { type: "send"; clientMessageId: string; body: string; meta?: Record<string, unknown> }
  | { type: "typing" }
  | { type: "read"; seq: number }
  | { type: "ping" };
