import type { ConversationRoom, Peer, RoomEnvironment } from "./conversation-room.ts";
import { CloseCode, isParleyError } from "./errors.ts";
import { frames } from "./outbound-frame.ts";
import { type ClientFrame, clientFrameSchema, clientMessageIdSchema, describeIssues } from "./validation.ts";

/** Parses a client frame; a refusal is an `error` frame, never an exception. */
export function parseClientFrame(
  text: string,
): ClientFrame | { error: string; clientMessageId?: string | undefined } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: "frame is not valid JSON" };
  }
  const result = clientFrameSchema.safeParse(value);
  if (!result.success) {
    return { error: `invalid frame: ${describeIssues(result.error)}`, clientMessageId: sendKeyOf(value) };
  }
  return result.data;
}

/** The key of a malformed `send`, when it has a valid one: the error must name the send it answers. */
function sendKeyOf(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const { type, clientMessageId } = value as Record<string, unknown>;
  return type === "send" && clientMessageIdSchema.safeParse(clientMessageId).success
    ? (clientMessageId as string)
    : undefined;
}

/**
 * What a conversation socket may say: `send`, `typing`, `read`, `ping`. Answers go only to the
 * socket that asked; a socket that floods is closed with 4008.
 */
export class RoomSocketFrames {
  constructor(
    private readonly room: ConversationRoom,
    private readonly env: RoomEnvironment,
  ) {}

  async receive(peer: Peer, text: string): Promise<void> {
    if (peer.frameBucket.take(this.env.now()) > 0) {
      this.room.disconnect(peer, CloseCode.tooSlowOrFast, "too many frames; slow down and reconnect");
      return;
    }
    const frame = parseClientFrame(text);
    if ("error" in frame) {
      peer.conn.send(frames.error("bad_frame", frame.error, frame.clientMessageId));
      return;
    }
    const userId = peer.identity.userId;
    try {
      switch (frame.type) {
        case "ping":
          peer.conn.send(frames.pong());
          return;
        case "typing":
          this.room.typing(userId);
          return;
        case "read":
          await this.room.markRead(userId, frame.seq);
          return;
        case "send": {
          const input = { clientMessageId: frame.clientMessageId, body: frame.body, meta: frame.meta };
          const { message } = await this.room.send(userId, input);
          peer.conn.send(frames.ack(frame.clientMessageId, message));
          return;
        }
      }
    } catch (error) {
      if (!isParleyError(error)) this.env.onError(error, "socket frame");
      const code = isParleyError(error) ? error.code : "internal";
      const message = isParleyError(error) ? error.message : "internal error";
      peer.conn.send(frames.error(code, message, frame.type === "send" ? frame.clientMessageId : undefined));
    }
  }
}
