/**
 * Creating a conversation, the same on every runtime: one store write (409 when the id is
 * taken), then the members' first thread-list row, which each host delivers its own way.
 */

import { ParleyError, storeRefusal } from "../core/errors.ts";
import { randomId } from "../core/ids.ts";
import type { OnError } from "../core/log.ts";
import type { Store } from "../core/store.ts";
import type { ThreadItem } from "../core/types.ts";
import type { ConversationView, NewConversation } from "./directory.ts";

export interface CreatedConversation {
  view: ConversationView & { createdAt: string };
  /** The new thread as every member's inbox should show it. */
  thread: ThreadItem;
}

export async function createConversation(
  store: Store,
  app: string,
  input: NewConversation,
  onError: OnError,
): Promise<CreatedConversation> {
  const now = new Date().toISOString();
  const id = input.id ?? randomId("c_");
  const members = [...new Set(input.members)];
  const title = input.title ?? null;
  const created = await store
    .createConversation(app, { id, title, lastSeq: 0, createdAt: now, lastActivityAt: now }, members)
    .catch(storeRefusal(onError, "creating a conversation failed", { app, conversationId: id }));
  if (!created) throw new ParleyError("conflict", `conversation "${id}" already exists`);
  return {
    view: {
      id,
      title,
      lastSeq: 0,
      createdAt: now,
      members: members.map((userId) => ({ userId, lastReadSeq: 0 })),
    },
    thread: { id, title, members, lastSeq: 0, lastReadSeq: 0, unread: 0, lastMessage: null },
  };
}
