/**
 * The founding document's delivery patterns, each as a full conversation: typing, messages both
 * ways, "seen" (read receipts) and presence, then the exactly-once verdict.
 *
 * - Messenger, Telegram: everything over the socket (send, typing, read).
 * - Instagram, Slack, Discord: send over HTTP, receive over the socket.
 * - Zalo: receive by long-poll (send over HTTP; long-poll cannot stream typing, so the
 *   long-poll side only sends it, and sees "seen" by polling).
 * - SSE: receive over Server-Sent Events, send over HTTP.
 */
import { describe, expect, it } from "vitest";
import type { ParleyClientOptions } from "../../client/index.ts";
import { useServer } from "../helpers/world.ts";
import { expectExactlyOnce, type Recorder, record, useClients } from "./harness.ts";

const w = useServer({
  env: { PARLEY_SEND_RATE: "1000", PARLEY_SEND_BURST: "1000", PARLEY_TYPING_THROTTLE_MS: "50" },
});
const clients = useClients(w);

interface Member {
  user: string;
  options: Partial<ParleyClientOptions>;
  /** Whether this member's transport streams typing indicators. */
  seesTyping?: boolean;
}

/** One full conversation among `members`: each in turn types, sends, and is seen by the rest. */
async function fullConversation(name: string, members: Member[]) {
  const conv = await w.conversation(
    members.map((m) => m.user),
    { title: name },
  );
  const recs = members.map((m) => record(clients.make(m.user, m.options), conv));
  await Promise.all(recs.map((r) => r.conversation.ready()));
  // Presence: everyone sees everyone.
  for (const r of recs) {
    await r.until(
      () => members.every((m) => r.conversation.online.includes(m.user)),
      5000,
      `${name}: presence`,
    );
  }
  const sent: string[] = [];
  for (const [i, speaker] of recs.entries()) {
    const others = recs.filter((r) => r !== speaker);
    const speakerId = members[i]?.user as string;
    // Typing shows up for everyone whose transport streams it.
    speaker.conversation.typing();
    for (const [j, o] of others.entries()) {
      const member = members[recs.indexOf(o)] as Member;
      if (member.seesTyping === false) continue;
      await o.until(
        () => o.typing.some((t) => t.userId === speakerId && t.typing),
        5000,
        `${name}: typing of ${speakerId} seen by other #${j}`,
      );
    }
    let last = 0;
    for (let k = 0; k < 3; k++) {
      const body = `${name}:${speakerId}:${k}`;
      sent.push(body);
      last = (await speaker.conversation.send(body)).seq;
    }
    // Each other member reads it; the speaker sees "seen".
    for (const o of others) {
      await o.until(() => (o.conversation.lastSeq ?? 0) >= last, 5000, `${name}: delivered`);
      await o.conversation.markRead(last);
      const reader = members[recs.indexOf(o)]?.user as string;
      await speaker.until(
        () => (speaker.conversation.readPositions.get(reader) ?? 0) >= last,
        5000,
        `${name}: ${speakerId} sees ${reader} has read ${last}`,
      );
    }
  }
  const stored = await expectExactlyOnce(await w.as(members[0]?.user as string), conv, sent, recs);
  for (const r of recs) expect(r.synced.length).toBeGreaterThanOrEqual(1);
  return { conv, recs, stored };
}

const socketAll: Partial<ParleyClientOptions> = { transport: "websocket", sendOver: "socket" };
const httpSend: Partial<ParleyClientOptions> = { transport: "websocket", sendOver: "http" };

describe("delivery patterns", () => {
  it("Messenger: 1:1, everything over the socket", async () => {
    await fullConversation("messenger", [
      { user: "ms-ann", options: socketAll },
      { user: "ms-bob", options: socketAll },
    ]);
  });

  it("Telegram: a group, everything over the socket", async () => {
    const { recs } = await fullConversation("telegram", [
      { user: "tg-ann", options: socketAll },
      { user: "tg-bob", options: socketAll },
      { user: "tg-cat", options: socketAll },
    ]);
    for (const r of recs) expect(r.conversation.transportKind).toBe("websocket");
  });

  it("Instagram: 1:1 DM, send over HTTP, receive over the socket", async () => {
    await fullConversation("instagram", [
      { user: "ig-ann", options: httpSend },
      { user: "ig-bob", options: httpSend },
    ]);
  });

  it("Slack: a channel, send over HTTP, receive over the socket", async () => {
    await fullConversation("slack", [
      { user: "sl-ann", options: httpSend },
      { user: "sl-bob", options: httpSend },
      { user: "sl-cat", options: httpSend },
    ]);
  });

  it("Discord: a busier channel, send over HTTP, receive over the socket", async () => {
    await fullConversation("discord", [
      { user: "dc-ann", options: httpSend },
      { user: "dc-bob", options: httpSend },
      { user: "dc-cat", options: httpSend },
      { user: "dc-dan", options: httpSend },
    ]);
  });

  it("Zalo: receive by long-poll", async () => {
    const { recs } = await fullConversation("zalo", [
      { user: "zl-ann", options: { transport: "longpoll" }, seesTyping: false },
      { user: "zl-bob", options: { transport: "longpoll" }, seesTyping: false },
      { user: "zl-cat", options: httpSend },
    ]);
    expect((recs[0] as Recorder).conversation.transportKind).toBe("longpoll");
  });

  it("SSE: receive over Server-Sent Events", async () => {
    const { recs } = await fullConversation("sse", [
      { user: "se-ann", options: { transport: "sse" } },
      { user: "se-bob", options: { transport: "sse" } },
    ]);
    for (const r of recs) expect(r.conversation.transportKind).toBe("sse");
  });
});
