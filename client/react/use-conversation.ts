/** `useConversation(id)`: one conversation, live, in its latest state, with what can be done to it. */
import { useMemo, useSyncExternalStore } from "react";
import type { EditFields, Message } from "../types.ts";
import {
  type ConversationSnapshot,
  conversationStore,
  type UseConversationOptions,
} from "./conversation-store.ts";
import { useParleyClient } from "./provider.ts";

/** What {@link useConversation} returns: the snapshot and the actions (stable functions). */
export interface UseConversationResult extends ConversationSnapshot {
  /** Sends a message; resolves once it is durable. Shown in `pending` until it is stored. */
  send(body: string, options?: { meta?: Record<string, unknown>; replyTo?: number }): Promise<Message>;
  /** Sends a message that answers message `seq`. */
  reply(seq: number, body: string, options?: { meta?: Record<string, unknown> }): Promise<Message>;
  /** Edits your message `seq`: shown at once, rolled back (and `error` set) if refused. */
  edit(seq: number, fields: EditFields): Promise<Message>;
  /** Deletes your message `seq` for everyone (it becomes a tombstone). */
  remove(seq: number): Promise<Message>;
  /** The same as `remove`. */
  delete(seq: number): Promise<Message>;
  /** Adds your reaction `key` (an emoji or a short name) to message `seq`. */
  react(seq: number, key: string): Promise<Message>;
  /** Removes your reaction `key` from message `seq`. */
  unreact(seq: number, key: string): Promise<Message>;
  /** Tells the others you are typing; call it on every keystroke (throttled). */
  signalTyping(): void;
  /** Marks everything up to `seq` (default: the last message shown) as read. */
  markRead(seq?: number): Promise<void>;
  /** Loads the page of history before the first message shown (when `hasMore`). */
  loadEarlier(): Promise<void>;
  /** Sends a refused message (in `pending`, status `failed`) again. */
  retry(clientMessageId: string): Promise<Message>;
  /** Forgets a refused message. */
  dismiss(clientMessageId: string): void;
  /** Clears `error`. */
  clearError(): void;
}

/**
 * Conversation `id` of the provider's client: connected while a component uses it (one
 * connection however many do), released when the last one unmounts or asks for another id.
 * Messages come in their latest state (edits, deletions and reactions folded in by the SDK);
 * every promise of an action rejects on a refusal, which also shows in `error`.
 *
 * ```tsx
 * const chat = useConversation("support-42");
 * chat.messages.map((m) => <p key={m.seq}>{m.deleted ? "(deleted)" : m.body}</p>);
 * chat.send("Hello");
 * ```
 */
export function useConversation(id: string, options?: UseConversationOptions): UseConversationResult {
  const client = useParleyClient();
  const store = conversationStore(client, id, options);
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return useMemo(
    () => ({
      ...snapshot,
      send: store.send,
      reply: store.reply,
      edit: store.edit,
      remove: store.remove,
      delete: store.remove,
      react: store.react,
      unreact: store.unreact,
      signalTyping: store.signalTyping,
      markRead: store.markRead,
      loadEarlier: store.loadEarlier,
      retry: store.retry,
      dismiss: store.dismiss,
      clearError: store.clearError,
    }),
    [snapshot, store],
  );
}
