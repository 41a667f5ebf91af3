/**
 * Every frame of the socket protocol, in both directions (CONTRACT.md "WebSocket"). SSE
 * carries the same server frames as `data:` lines, and long-polls return the same messages.
 * A new frame type is added here first: the server's encoders, its inbound frame table and
 * the SDK's decoder are typed against these unions, so the compiler points at every place
 * that must handle it.
 */
import type { Message, SendFields, ThreadItem } from "./shapes.ts";

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
  /** Inbox sockets only. */
  | { type: "thread"; conversation: ThreadItem };

/** Client → server frames. The inbox socket takes only `ping`. */
export type ClientFrame =
  | ({ type: "send" } & SendFields)
  | { type: "typing" }
  | { type: "read"; seq: number }
  | { type: "ping" };

export type ServerFrameType = ServerFrame["type"];
export type ClientFrameType = ClientFrame["type"];

/** The frame of one type: `FrameOf<ClientFrame, "send">`. */
export type FrameOf<F extends { type: string }, T extends F["type"]> = Extract<F, { type: T }>;
