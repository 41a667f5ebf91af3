/**
 * The wire protocol, both ways: every server frame the relay encodes is read back unchanged by
 * the SDK's decoder, and every client frame the SDK can send is accepted, unchanged, by the
 * relay's parser. The example tables are keyed by frame type, so a frame added to `protocol/`
 * without an example here does not compile.
 */
import { describe, expect, it } from "vitest";
import { frames, threadFramesOf } from "../../party/core/outbound-frame.ts";
import { parseClientFrame } from "../../party/core/room-socket-frames.ts";
import {
  type Change,
  type ClientFrame,
  type ClientFrameType,
  type FrameOf,
  type Message,
  parseServerFrame,
  type ServerFrame,
  type ServerFrameType,
  type ThreadItem,
} from "../../protocol/index.ts";

const message: Message = {
  id: "m_1",
  conversationId: "c1",
  seq: 7,
  senderId: "ann",
  clientMessageId: "k1",
  body: "héllo \u{1F44B} <b>",
  meta: { kind: "note", nested: { list: [1, "two", null] } },
  createdAt: "2026-12-01T10:00:00.000Z",
  editedAt: "2026-12-01T10:05:00.000Z",
  reactions: { "\u{1F44D}": { count: 2, users: ["ann", "bob"] } },
  replyTo: 3,
  replyCount: 1,
};

const change: Change = {
  seq: 9,
  target: 7,
  kind: "edit",
  userId: "ann",
  at: "2026-12-01T10:05:00.000Z",
  body: "fixed",
};

const thread: ThreadItem = {
  id: "c1",
  title: "Hi",
  members: ["ann", "bob"],
  lastSeq: 7,
  lastReadSeq: 3,
  unread: 2,
  lastMessage: message,
};

/** Each server frame, and how the relay encodes it. */
const serverExamples: { [T in ServerFrameType]: [FrameOf<ServerFrame, T>, () => { text: string }] } = {
  message: [{ type: "message", message }, () => frames.message(message)],
  change: [{ type: "change", change, message }, () => frames.change(change, message)],
  synced: [{ type: "synced", lastSeq: 42 }, () => frames.synced(42)],
  typing: [
    { type: "typing", userId: "bob", expiresAt: "2026-12-01T10:00:06.000Z" },
    () => frames.typing("bob", Date.parse("2026-12-01T10:00:06.000Z")),
  ],
  read: [{ type: "read", userId: "bob", seq: 7 }, () => frames.read("bob", 7)],
  presence: [{ type: "presence", online: ["ann", "bob"] }, () => frames.presence({ online: ["ann", "bob"] })],
  ack: [
    { type: "ack", clientMessageId: "k1", message },
    () => frames.ack({ clientMessageId: "k1" }, message),
  ],
  pong: [{ type: "pong" }, () => frames.pong()],
  error: [
    { type: "error", code: "rate_limited", message: "slow down", clientMessageId: "k9" },
    () => frames.error("rate_limited", "slow down", { clientMessageId: "k9" }),
  ],
  thread: [{ type: "thread", conversation: thread }, () => frames.thread(thread)],
  thread_removed: [{ type: "thread_removed", conversationId: "c1" }, () => frames.thread_removed("c1")],
};

const clientExamples: { [T in ClientFrameType]: FrameOf<ClientFrame, T> } = {
  send: { type: "send", clientMessageId: "k1", body: "hi", meta: { a: [1, { b: true }] }, replyTo: 3 },
  edit: { type: "edit", seq: 7, body: "fixed", meta: null, ref: "r1" },
  delete: { type: "delete", seq: 7, ref: "r2" },
  react: { type: "react", seq: 7, key: "\u{1F44D}", ref: "r3" },
  unreact: { type: "unreact", seq: 7, key: "thumbs_up" },
  typing: { type: "typing" },
  read: { type: "read", seq: 12 },
  ping: { type: "ping" },
};

describe("protocol", () => {
  for (const [type, [expected, encode]] of Object.entries(serverExamples)) {
    it(`server → client "${type}": the relay's encoding decodes to the same frame`, () => {
      expect(parseServerFrame(encode().text)).toEqual(expected);
    });
  }

  for (const [type, frame] of Object.entries(clientExamples)) {
    it(`client → server "${type}": the SDK's frame is accepted as sent`, () => {
      expect(parseClientFrame(JSON.stringify(frame))).toEqual(frame);
    });
  }

  it("thread frames spliced per member decode to the same item as the plain encoder's", () => {
    const { lastReadSeq, unread, ...shared } = thread;
    const spliced = threadFramesOf(shared)(lastReadSeq, unread);
    expect(parseServerFrame(spliced.text)).toEqual(parseServerFrame(frames.thread(thread).text));
    expect(parseServerFrame(spliced.text)).toEqual({ type: "thread", conversation: thread });
  });

  it("an ack that shares its message frame's JSON is the plain encoder's text, byte for byte", () => {
    const shared = frames.message(message);
    for (const answers of [{ clientMessageId: 'k"1\u2028' }, { ref: "r1" }, {}]) {
      const reused = frames.ack(answers, message, shared);
      expect(reused.text).toBe(frames.ack(answers, message).text);
      expect(parseServerFrame(reused.text)).toEqual({ type: "ack", ...answers, message });
    }
    // Another frame (not a message frame) is never spliced from.
    const other = frames.change(
      { seq: 9, target: message.seq, kind: "delete", userId: "ann", at: message.createdAt },
      message,
    );
    expect(frames.ack({ ref: "r2" }, message, other).text).toBe(frames.ack({ ref: "r2" }, message).text);
  });

  it('a presence delta ("joined", "left") decodes as sent', () => {
    const delta = { type: "presence", joined: ["cy"], left: ["ann", "bob"] } as const;
    expect(parseServerFrame(frames.presence({ joined: ["cy"], left: ["ann", "bob"] }).text)).toEqual(delta);
  });

  it("the decoder drops malformed and unknown frames instead of passing them on", () => {
    for (const text of [
      "not json",
      "[]",
      '{"type":"message","message":{"seq":-1}}',
      '{"type":"synced","lastSeq":"3"}',
      '{"type":"error","code":5}',
      '{"type":"presence"}',
      '{"type":"presence","joined":["a"]}',
      '{"type":"presence","joined":["a"],"left":[1]}',
      '{"type":"hasOwnProperty"}',
      '{"type":"from-a-newer-relay"}',
    ]) {
      expect(parseServerFrame(text), text).toBeNull();
    }
  });
});
