import { describe, expect, it } from "vitest";
import { MessageBuffer } from "../../party/core/message-buffer.ts";
import type { Message } from "../../party/core/types.ts";

const msg = (seq: number): Message => ({
  id: `m${seq}`,
  conversationId: "c",
  seq,
  senderId: "u",
  clientMessageId: `k${seq}`,
  body: `b${seq}`,
  createdAt: "2026-01-01T00:00:00.000Z",
});

function filled(capacity: number, from: number, to: number): MessageBuffer {
  const buffer = new MessageBuffer(capacity);
  const messages: Message[] = [];
  for (let s = from; s <= to; s++) messages.push(msg(s));
  buffer.fill(messages);
  return buffer;
}

const seqs = (page: Array<{ message: Message }> | null) => page?.map((p) => p.message.seq) ?? null;

describe("MessageBuffer", () => {
  it("keeps only the last `capacity` messages and reports what it evicted", () => {
    const buffer = filled(3, 1, 3);
    const evicted = buffer.push({ message: msg(4), frame: { text: "", bytes: new Uint8Array() } as never });
    expect(evicted.map((e) => e.message.seq)).toEqual([1]);
    expect(buffer.firstSeq).toBe(2);
    expect(buffer.size).toBe(3);
  });

  it("answers `after` from memory only when it reaches down to after + 1", () => {
    const buffer = filled(5, 6, 10);
    expect(seqs(buffer.after(5, 10))).toEqual([6, 7, 8, 9, 10]);
    expect(seqs(buffer.after(7, 2))).toEqual([8, 9]);
    expect(seqs(buffer.after(10, 5))).toEqual([]);
    expect(buffer.after(4, 10)).toBeNull();
  });

  it("answers `before` from memory only when the whole page is inside it", () => {
    const buffer = filled(5, 6, 10);
    expect(seqs(buffer.before(undefined, 2))).toEqual([9, 10]);
    expect(seqs(buffer.before(9, 3))).toEqual([6, 7, 8]);
    expect(buffer.before(9, 4)).toBeNull();
    expect(seqs(buffer.before(1000, 2))).toEqual([9, 10]);
    const fromStart = filled(10, 1, 4);
    expect(seqs(fromStart.before(undefined, 10))).toEqual([1, 2, 3, 4]);
    expect(seqs(fromStart.before(3, 10))).toEqual([1, 2]);
  });

  it("stays correct across compaction after many pushes", () => {
    const buffer = filled(10, 1, 10);
    for (let s = 11; s <= 5000; s++) buffer.push({ message: msg(s), frame: {} as never });
    expect(buffer.firstSeq).toBe(4991);
    expect(seqs(buffer.after(4995, 3))).toEqual([4996, 4997, 4998]);
  });
});
