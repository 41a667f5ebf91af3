/**
 * A deleted message is not unread: a tombstone has nothing to read, so it leaves every unread
 * count it was in — the thread list (counted by the store), the inbox's `thread` frames (counted
 * in the room's memory), after a read, for a member added later, and after a restart (counted
 * when the room loads). Found from outside: a conversation whose only message was deleted still
 * showed 1 unread. A small window (PARLEY_BUFFER_SIZE) makes older messages counted by the store.
 */
import { describe, expect, it } from "vitest";
import type { Api, Frame } from "../helpers/clients.ts";
import { send, uid, useServer } from "../helpers/world.ts";

const w = useServer({
  env: { PARLEY_BUFFER_SIZE: "4", PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000" },
});

const unreadIn = async (api: Api, conv: string): Promise<number> => {
  const rows = (await api.get("/v1/conversations")).json.conversations;
  return rows.find((t: { id: string }) => t.id === conv).unread;
};

describe("a deleted message", () => {
  it("leaves the unread counts of the thread list, the inbox, a later member and a restarted room", async () => {
    const [ann, bob, carl] = [uid("ann"), uid("bob"), uid("carl")];
    const conv = await w.conversation([ann, bob]);
    const a = await w.as(ann);
    const b = await w.as(bob);
    for (let i = 1; i <= 6; i++) await send(a, conv, `k${i}`, `message ${i}`);
    expect(await unreadIn(b, conv)).toBe(6);
    const inbox = await w.inbox(bob);
    const threadFrames = () => inbox.frames.filter((f: Frame) => f.type === "thread");
    // An old message (below the room's window) and a recent one, neither of them the last.
    for (const seq of [2, 5])
      expect((await a.del(`/v1/conversations/${conv}/messages/${seq}`)).status).toBe(200);
    const frame = await inbox.waitFor(
      (f: Frame) => f.type === "thread" && f.conversation.id === conv && f.conversation.unread === 4,
      5000,
    );
    expect(frame.conversation.lastSeq).toBe(8);
    expect(threadFrames().every((f: Frame) => f.conversation.unread >= 4)).toBe(true);
    expect(await unreadIn(b, conv)).toBe(4);
    // The sender's count is untouched: their own messages were never unread.
    expect(await unreadIn(a, conv)).toBe(0);
    // A read below the deleted ones counts above it without them: 3, 4 and 6 are left.
    expect((await b.post(`/v1/conversations/${conv}/read`, { seq: 1 })).status).toBe(204);
    await inbox.waitFor(
      (f: Frame) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastReadSeq === 1,
      5000,
    );
    expect(threadFrames().at(-1)?.conversation.unread).toBe(3);
    expect(await unreadIn(b, conv)).toBe(3);
    // Deleting the same message again changes nothing.
    expect((await a.del(`/v1/conversations/${conv}/messages/2`)).status).toBe(200);
    expect(await unreadIn(b, conv)).toBe(3);
    // A member added now has every message but the deleted ones unread.
    expect((await w.admin.put(`/v1/conversations/${conv}/members/${carl}`)).status).toBe(204);
    const c = await w.as(carl);
    expect(await unreadIn(c, conv)).toBe(4);
    await inbox.close();
    // After a restart the room loads the counts from the store; the inbox frame agrees.
    await w.server.restart();
    const again = await w.inbox(bob);
    await send(a, conv, "k7", "message 7");
    const after = await again.waitFor(
      (f: Frame) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 9,
      5000,
    );
    expect(after.conversation.unread).toBe(4);
    expect(await unreadIn(await w.as(bob), conv)).toBe(4);
    expect(await unreadIn(await w.as(carl), conv)).toBe(5);
    await again.close();
  });
});
