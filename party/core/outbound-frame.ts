import type { Message, ThreadItem } from "./types.ts";

const encoder = new TextEncoder();

/**
 * A server frame, serialized once and shared by every connection it goes to: fan-out to 200
 * sockets is one JSON.stringify and one UTF-8 encode, not 200.
 */
export class OutboundFrame {
  #bytes: Uint8Array | undefined;
  constructor(
    /** The JSON text of the frame. */
    readonly text: string,
    /** Set on message frames: SSE uses it as the event id. */
    readonly seq?: number,
  ) {}

  /** UTF-8 bytes of `text`, encoded on first use and then reused. */
  get bytes(): Uint8Array {
    this.#bytes ??= encoder.encode(this.text);
    return this.#bytes;
  }
}

export const frames = {
  message: (message: Message) => new OutboundFrame(JSON.stringify({ type: "message", message }), message.seq),
  synced: (lastSeq: number) => new OutboundFrame(JSON.stringify({ type: "synced", lastSeq })),
  typing: (userId: string, expiresAt: number) =>
    new OutboundFrame(
      JSON.stringify({ type: "typing", userId, expiresAt: new Date(expiresAt).toISOString() }),
    ),
  read: (userId: string, seq: number) => new OutboundFrame(JSON.stringify({ type: "read", userId, seq })),
  presence: (online: string[]) => new OutboundFrame(JSON.stringify({ type: "presence", online })),
  ack: (clientMessageId: string, message: Message) =>
    new OutboundFrame(JSON.stringify({ type: "ack", clientMessageId, message })),
  pong: () => new OutboundFrame('{"type":"pong"}'),
  error: (code: string, message: string, clientMessageId?: string) =>
    new OutboundFrame(
      JSON.stringify(
        clientMessageId === undefined
          ? { type: "error", code, message }
          : { type: "error", code, message, clientMessageId },
      ),
    ),
  thread: (conversation: ThreadItem) => new OutboundFrame(JSON.stringify({ type: "thread", conversation })),
};
