/**
 * What a conversation socket may say, one handler per client frame type of the protocol (the
 * table is keyed by `ClientFrameType`, so a frame added to `protocol/` without a handler does
 * not compile). Answers go only to the socket that asked; a socket that floods is closed with
 * 4008; a refusal is an `error` frame, never an exception.
 */
import type { ClientFrameType, FrameOf } from "../../protocol/index.ts";
import type { SocketData } from "./connection.ts";
import { CloseCode, isParleyError } from "./errors.ts";
import { inboundSize } from "./flow-control.ts";
import type { OnError } from "./log.ts";
import { type Answers, frames, type OutboundFrame } from "./outbound-frame.ts";
import type { SendResult } from "./room/commit-pipeline.ts";
import type { Peer } from "./room/peer.ts";
import type { EditFields, Message, SendInput } from "./types.ts";
import { type ClientFrame, clientFrameSchema, clientMessageIdSchema, describeIssues } from "./validation.ts";

/** Parses a client frame; a refusal is `{ error }`, never an exception. */
export function parseClientFrame(text: string): ClientFrame | { error: string; answers?: Answers } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: "frame is not valid JSON" };
  }
  const result = clientFrameSchema.safeParse(value);
  if (!result.success) {
    return { error: `invalid frame: ${describeIssues(result.error)}`, answers: answersOfMalformed(value) };
  }
  return result.data;
}

/**
 * Whom an error about a malformed frame is for, when it says so validly: a `send`'s key, or a
 * change frame's `ref` (the error must name the request it answers).
 */
function answersOfMalformed(value: unknown): Answers | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const { type, clientMessageId, ref } = value as Record<string, unknown>;
  if (type === "send" && clientMessageIdSchema.safeParse(clientMessageId).success)
    return { clientMessageId: clientMessageId as string };
  if (typeof ref === "string" && ref.length > 0 && ref.length <= 64) return { ref };
  return undefined;
}

/** What the frame handlers need from the room. */
export interface FrameTarget {
  send(senderId: string, input: SendInput): Promise<SendResult>;
  edit(actor: { userId: string }, seq: number, fields: EditFields): Promise<SendResult>;
  deleteMessage(actor: { userId: string }, seq: number): Promise<SendResult>;
  react(userId: string, seq: number, key: string): Promise<SendResult>;
  unreact(userId: string, seq: number, key: string): Promise<SendResult>;
  typing(userId: string): void;
  markRead(userId: string, seq: number): Promise<void>;
  /** The ack of a committed send or change, with `message` in the state it was committed in. */
  ack(answers: Answers, message: Message): OutboundFrame;
  /** Charges a frame of `bytes` to the peer's inbound budget; the reason when it is over. */
  charge(peer: Peer, bytes: number, now: number): string | undefined;
  /** Answers the peer alone, within its outbound cap (4008 past it). */
  reply(peer: Peer, frame: OutboundFrame): void;
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
  ping: (room, peer) => room.reply(peer, frames.pong()),
  typing: (room, peer) => room.typing(peer.identity.userId),
  read: (room, peer, frame) => room.markRead(peer.identity.userId, frame.seq),
  send: async (room, peer, frame) => {
    const { type: _, ...input } = frame;
    const { message } = await room.send(peer.identity.userId, input);
    room.reply(peer, room.ack({ clientMessageId: frame.clientMessageId }, message));
  },
  edit: async (room, peer, frame) => {
    const { message } = await room.edit({ userId: peer.identity.userId }, frame.seq, {
      body: frame.body,
      meta: frame.meta,
    });
    room.reply(peer, room.ack(refOf(frame), message));
  },
  delete: async (room, peer, frame) => {
    const { message } = await room.deleteMessage({ userId: peer.identity.userId }, frame.seq);
    room.reply(peer, room.ack(refOf(frame), message));
  },
  react: async (room, peer, frame) => {
    const { message } = await room.react(peer.identity.userId, frame.seq, frame.key);
    room.reply(peer, room.ack(refOf(frame), message));
  },
  unreact: async (room, peer, frame) => {
    const { message } = await room.unreact(peer.identity.userId, frame.seq, frame.key);
    room.reply(peer, room.ack(refOf(frame), message));
  },
};

/** Whom an answer is for: a send's key, or a change frame's `ref` (when it had one). */
function answersOf(frame: ClientFrame): Answers | undefined {
  if (frame.type === "send") return { clientMessageId: frame.clientMessageId };
  if ("ref" in frame) return refOf(frame);
  return undefined;
}

const refOf = (frame: { ref?: string | undefined }): Answers =>
  frame.ref === undefined ? {} : { ref: frame.ref };

/**
 * Handles one frame from a conversation socket. Its cost is charged before anything is parsed,
 * so a flood is refused (4008) for the price of a length check.
 */
export async function receiveRoomFrame(
  room: FrameTarget,
  peer: Peer,
  data: SocketData,
  now: number,
  onError: OnError,
): Promise<void> {
  const over = room.charge(peer, inboundSize(data), now);
  if (over) {
    room.disconnect(peer, CloseCode.tooSlowOrFast, over);
    return;
  }
  if (typeof data !== "string") {
    room.reply(peer, frames.error("bad_frame", "binary frames are not supported; send JSON text"));
    return;
  }
  const frame = parseClientFrame(data);
  if ("error" in frame) {
    room.reply(peer, frames.error("bad_frame", frame.error, frame.answers));
    return;
  }
  try {
    const handle = handlers[frame.type] as (room: FrameTarget, peer: Peer, frame: ClientFrame) => unknown;
    await handle(room, peer, frame);
  } catch (error) {
    if (!isParleyError(error))
      onError(error, "socket frame failed", { userId: peer.identity.userId, frame: frame.type });
    const code = isParleyError(error) ? error.code : "internal";
    const message = isParleyError(error) ? error.message : "internal error";
    room.reply(peer, frames.error(code, message, answersOf(frame)));
  }
}
