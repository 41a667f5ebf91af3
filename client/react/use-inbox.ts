/** `useInbox()`: the signed-in user's thread list, live, with unread counts. */
import { useSyncExternalStore } from "react";
import { type InboxSnapshot, inboxStore } from "./inbox-store.ts";
import { useParleyClient } from "./provider.ts";

/**
 * The thread list of the provider's client (one inbox connection however many components use
 * it; closed when the last one unmounts): rows newest activity first, each with its `unread`
 * count, the total `unread`, and the inbox's `state`.
 *
 * ```tsx
 * const { threads, unread } = useInbox();
 * ```
 */
export function useInbox(): InboxSnapshot {
  const store = inboxStore(useParleyClient());
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}
