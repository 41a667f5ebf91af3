/**
 * Server frames, encoded once. Every encoder takes a `ServerFrame` of the protocol, so what the
 * relay writes is what the SDK's decoder reads (`protocol/decode.ts`; a test round-trips each).
 */
import type { FrameOf, ServerFrame, ServerFrameType } from "../../protocol/index.ts";
import type { Change, Message, ThreadItem } from "./types.ts";

const encoder = new TextEncoder();

/**
 * A server frame, serialized once and shared by every connection it goes to: fan-out to 200
 * sockets is one JSON.stringify and one UTF-8 encode, not 200.
 */
export class OutboundFrame {
  #bytes: Uint8Array | undefined;
  /**
   * The frame as a transport writes it, built by that transport's adapter on first use and
   * shared by every connection (Node: its WebSocket framing). Core never reads it.
   */
  wire: Uint8Array | undefined = undefined;
  constructor(
    /** The JSON text of the frame. */
    readonly text: string,
    /** Set on log entries (message frames): SSE uses it as the event id. */
    readonly seq?: number,
  ) {}

  /** UTF-8 bytes of `text`, encoded on first use and then reused. */
  get bytes(): Uint8Array {
    this.#bytes ??= encoder.encode(this.text);
    return this.#bytes;
  }
}

/** Encodes one protocol frame; `seq` marks a log entry (SSE `id:`). */
export function encodeFrame(frame: ServerFrame, seq?: number): OutboundFrame {
  return new OutboundFrame(JSON.stringify(frame), seq);
}

/** Which client frame an answer is for: a send's key, or a change frame's ref. */
export type Answers = { clientMessageId?: string } | { ref?: string };

type Encoders = { [T in ServerFrameType]: (...args: never[]) => OutboundFrame };

/** One encoder per server frame type (the `satisfies` makes a missing one a compile error). */
export const frames = {
  message: (message: Message) => encodeFrame({ type: "message", message }, message.seq),
  change: (change: Change, message: Message) => encodeFrame({ type: "change", change, message }, change.seq),
  synced: (lastSeq: number) => encodeFrame({ type: "synced", lastSeq }),
  typing: (userId: string, expiresAt: number) =>
    encodeFrame({ type: "typing", userId, expiresAt: new Date(expiresAt).toISOString() }),
  read: (userId: string, seq: number) => encodeFrame({ type: "read", userId, seq }),
  /** The full online list (`{ online }`), or what changed (`{ joined, left }`). */
  presence: (change: { online: string[] } | { joined: string[]; left: string[] }) =>
    encodeFrame({ type: "presence", ...change }),
  /**
   * The ack of a `send` (by its key) or of a change frame (by its `ref`, when it had one).
   * `shared`: the `message` frame of the same message in the same state, when the room has it:
   * its JSON of the message is reused (the ack carries the message the fan-out just encoded).
   */
  ack: (answers: Answers, message: Message, shared?: OutboundFrame) => {
    if (shared?.text.startsWith(MESSAGE_FRAME_HEAD)) {
      const head = JSON.stringify({ type: "ack", ...answers });
      return new OutboundFrame(`${head.slice(0, -1)},${shared.text.slice(MESSAGE_FRAME_HEAD.length)}`);
    }
    return encodeFrame({ type: "ack", ...answers, message });
  },
  pong: () => PONG,
  error: (code: string, message: string, answers?: Answers) => {
    const frame: FrameOf<ServerFrame, "error"> = { type: "error", code, message };
    return encodeFrame({ ...frame, ...answers });
  },
  thread: (conversation: ThreadItem) => encodeFrame({ type: "thread", conversation }),
  thread_removed: (conversationId: string) => encodeFrame({ type: "thread_removed", conversationId }),
} satisfies Encoders;

const PONG = encodeFrame({ type: "pong" });
/** How `frames.message` text starts, before `"message":{…}}`. */
const MESSAGE_FRAME_HEAD = '{"type":"message",';

/** The part of a conversation's thread item that is the same for every member. */
export type SharedThread = Omit<ThreadItem, "lastReadSeq" | "unread">;

/**
 * Thread frames for many members, with the shared part serialized once: each member's frame
 * is that text with their two numbers spliced in front (a commit of a 200-member room used to
 * serialize the last message and the member list 200 times). Decodes to exactly what
 * `frames.thread` gives for the same item (the protocol test checks it).
 */
export function threadFramesOf(shared: SharedThread): (lastReadSeq: number, unread: number) => OutboundFrame {
  const rest = JSON.stringify(shared).slice(1); // without its opening brace
  return (lastReadSeq, unread) =>
    new OutboundFrame(
      `{"type":"thread","conversation":{"lastReadSeq":${lastReadSeq},"unread":${unread},${rest}}`,
    );
}
