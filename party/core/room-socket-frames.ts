/**
 * What a conversation socket may say, one handler per client frame type of the protocol (the
 * table is keyed by `ClientFrameType`, so a frame added to `protocol/` without a handler does
 * not compile). Answers go only to the socket that asked; a socket that floods is closed with
 * 4008; a refusal is an `error` frame, never an exception.
 */
import type { ClientFrameType, FrameOf } from "../../protocol/index.ts";
import { CloseCode, isParleyError } from "./errors.ts";
import { frames } from "./outbound-frame.ts";
import type { SendResult } from "./room/commit-pipeline.ts";
import type { Peer } from "./room/peer.ts";
import type { SendInput } from "./types.ts";
import { type ClientFrame, clientFrameSchema, clientMessageIdSchema, describeIssues } from "./validation.ts";

/** Parses a client frame; a refusal is `{ error }`, never an exception. */
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

/** What the frame handlers need from the room. */
export interface FrameTarget {
  send(senderId: string, input: SendInput): Promise<SendResult>;
  typing(userId: string): void;
  markRead(userId: string, seq: number): Promise<void>;
  /** Closes a peer that floods (4008: the client resumes). */
  disconnect(peer: Peer, code: number, reason: string): void;
}

type Handlers = {
  [T in ClientFrameType]: (
    room: FrameTarget,
    peer: Peer,
    frame: FrameOf<ClientFrame, T>,
  ) => Promise<void> | void;
};

const handlers: Handlers = {
  ping: (_room, peer) => peer.conn.send(frames.pong()),
  typing: (room, peer) => room.typing(peer.identity.userId),
  read: (room, peer, frame) => room.markRead(peer.identity.userId, frame.seq),
  send: async (room, peer, frame) => {
    const input = { clientMessageId: frame.clientMessageId, body: frame.body, meta: frame.meta };
    const { message } = await room.send(peer.identity.userId, input);
    peer.conn.send(frames.ack(frame.clientMessageId, message));
  },
};

/** Handles one text frame from a conversation socket. */
export async function receiveRoomFrame(
  room: FrameTarget,
  peer: Peer,
  text: string,
  now: number,
  onError: (error: unknown, context: string) => void,
): Promise<void> {
  if (peer.frameBucket.take(now) > 0) {
    room.disconnect(peer, CloseCode.tooSlowOrFast, "too many frames; slow down and reconnect");
    return;
  }
  const frame = parseClientFrame(text);
  if ("error" in frame) {
    peer.conn.send(frames.error("bad_frame", frame.error, frame.clientMessageId));
    return;
  }
  try {
    const handle = handlers[frame.type] as (room: FrameTarget, peer: Peer, frame: ClientFrame) => unknown;
    await handle(room, peer, frame);
  } catch (error) {
    if (!isParleyError(error)) onError(error, "socket frame");
    const code = isParleyError(error) ? error.code : "internal";
    const message = isParleyError(error) ? error.message : "internal error";
    peer.conn.send(frames.error(code, message, frame.type === "send" ? frame.clientMessageId : undefined));
  }
}
