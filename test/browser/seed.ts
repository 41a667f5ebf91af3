/**
 * Seeds a conversation's history with messages of chosen times (yesterday, last week …), which
 * the relay cannot be asked for: it stamps each message when it commits it. The relay is
 * stopped, the messages are appended to its libSQL file through the store, and it starts again.
 */
import { randomUUID } from "node:crypto";
import path from "node:path";
import { openStore } from "../../store/open.ts";
import type { World } from "../helpers/world.ts";

export interface Seed {
  senderId: string;
  body: string;
  createdAt: Date;
}

/** Appends `messages` (seq 1, 2 … in this order) to the empty conversation `conv`. */
export async function seedHistory(w: World, conv: string, messages: Seed[]): Promise<void> {
  await w.server.stop();
  const store = await openStore({ url: `file:${path.join(w.server.dbDir, "parley.db")}`, sync: "full" });
  try {
    await store.appendEntries("default", conv, {
      messages: messages.map((m, i) => ({
        id: randomUUID(),
        conversationId: conv,
        seq: i + 1,
        senderId: m.senderId,
        clientMessageId: `seed-${i + 1}`,
        body: m.body,
        createdAt: m.createdAt.toISOString(),
        reactions: {},
        replyCount: 0,
      })),
      changes: [],
      states: [],
      scrub: [],
    });
  } finally {
    await store.close();
  }
  await w.server.restart();
}
