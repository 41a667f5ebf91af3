/**
 * Every frame of the socket protocol, in both directions (CONTRACT.md "WebSocket"). SSE
 * carries the same server frames as `data:` lines, and long-polls return the same messages.
 * A new frame type is added here first: the server's encoders, its inbound frame table and
 * the SDK's decoder are typed against these unions, so the compiler points at every place
 * that must handle it.
 */
import type { Change, EditFields, Message, SendFields, ThreadItem } from "./shapes.ts";

/** Server → client frames. */
export type ServerFrame =
  | { type: "message"; message: Message }
  /** A change entry; `message` is the target's state just after it (on replay: its latest). */
  | { type: "change"; change: Change; message: Message }
  | { type: "synced"; lastSeq: number }
  | { type: "typing"; userId: string; expiresAt: string }
  | { type: "read"; userId: string; seq: number }
  /** Who is online: the full list, once, right after `synced`. */
  | { type: "presence"; online: string[] }
  /**
   * After that, what changed in a short window: users who came online and users who went
   * offline (a user who did both within the window is in neither).
   */
  | { type: "presence"; joined: string[]; left: string[] }
  /**
   * Answers a `send` (with its `clientMessageId`) or a change frame (with its `ref`, when it
   * had one), once durable.
   */
  | { type: "ack"; message: Message; clientMessageId?: string; ref?: string }
  | { type: "pong" }
  /** `clientMessageId` when it answers a `send`, `ref` when it answers a change frame. */
  | { type: "error"; code: string; message: string; clientMessageId?: string; ref?: string }
  /** Inbox sockets only. */
  | { type: "thread"; conversation: ThreadItem }
  /**
   * Inbox sockets only: the user was removed from this conversation, so it leaves their
   * thread list (no `thread` frame can say so: a removed user gets none).
   */
  | { type: "thread_removed"; conversationId: string };

/** Client → server frames. The inbox socket takes only `ping`. */
export type ClientFrame =
  | ({ type: "send" } & SendFields)
  | ({ type: "edit"; seq: number; ref?: string | undefined } & EditFields)
  | { type: "delete"; seq: number; ref?: string | undefined }
  | { type: "react"; seq: number; key: string; ref?: string | undefined }
  | { type: "unreact"; seq: number; key: string; ref?: string | undefined }
  | { type: "typing" }
  | { type: "read"; seq: number }
  | { type: "ping" };

export type ServerFrameType = ServerFrame["type"];
export type ClientFrameType = ClientFrame["type"];

/** The frame of one type: `FrameOf<ClientFrame, "send">`. */
export type FrameOf<F extends { type: string }, T extends F["type"]> = Extract<F, { type: T }>;
