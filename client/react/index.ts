/**
 * `parley/react`: React bindings over the client SDK (`parley/client`). `<ParleyProvider>`
 * holds one client; `useConversation(id)` gives a conversation's messages in their latest
 * state with send, edit, delete, react and reply, its state, typing and presence;
 * `useInbox()` gives the thread list with unread counts. Built on `useSyncExternalStore` over
 * the SDK's events: the SDK keeps the state, the hooks read it. See `client/README.md`.
 */
export type {
  ConversationSnapshot,
  OutgoingMessage,
  UseConversationOptions,
} from "./conversation-store.ts";
export type { InboxSnapshot } from "./inbox-store.ts";
export { ParleyProvider, type ParleyProviderProps, useParleyClient } from "./provider.ts";
export { type UseConversationResult, useConversation } from "./use-conversation.ts";
export { useInbox } from "./use-inbox.ts";
