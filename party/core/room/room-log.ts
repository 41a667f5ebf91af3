/**
 * What the room holds of its conversation's log: the durable header (lastSeq, last activity),
 * the window of recent messages with their encoded frames, and the idempotency keys of that
 * window. Only committed messages enter it, in seq order; the commit pipeline writes it, every
 * reader (replay, history, thread items) reads it.
 */
import { idempotencyKey } from "../content.ts";
import { type BufferedMessage, MessageBuffer } from "../message-buffer.ts";
import { frames } from "../outbound-frame.ts";
import type { ConversationRecord, Message } from "../types.ts";

export class RoomLog {
  readonly buffer: MessageBuffer;
  /** Idempotency keys of buffered messages; older keys are looked up in the store. */
  #keys = new Map<string, Message>();

  constructor(
    readonly conversation: ConversationRecord,
    bufferSize: number,
    recent: readonly Message[],
  ) {
    this.buffer = new MessageBuffer(bufferSize);
    this.buffer.fill(recent);
    for (const m of recent) this.#keys.set(idempotencyKey(m.senderId, m.clientMessageId), m);
  }

  get lastSeq(): number {
    return this.conversation.lastSeq;
  }

  /** The buffered message with this idempotency key, if the window still holds it. */
  known(key: string): Message | undefined {
    return this.#keys.get(key);
  }

  /** The newest message, if the window holds any. */
  latest(): Message | null {
    return this.buffer.before(undefined, 1)?.[0]?.message ?? null;
  }

  /** A committed message (the next seq) enters the window; returns it with its encoded frame. */
  apply(message: Message): BufferedMessage {
    const entry: BufferedMessage = { message, frame: frames.message(message) };
    this.conversation.lastSeq = message.seq;
    this.conversation.lastActivityAt = message.createdAt;
    for (const old of this.buffer.push(entry)) {
      this.#keys.delete(idempotencyKey(old.message.senderId, old.message.clientMessageId));
    }
    this.#keys.set(idempotencyKey(message.senderId, message.clientMessageId), message);
    return entry;
  }
}
