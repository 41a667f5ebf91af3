/**
 * Every word the widget shows or announces. Override any of them for another language:
 * `chat.strings = { send: "Senden", typingOne: "{name} schreibt …" }`. `{name}`-style
 * placeholders are filled in as plain text (never as HTML).
 */
export const defaultStrings = {
  threads: "Conversations",
  showThreads: "Show conversations",
  noThreads: "No conversations yet",
  /** The main pane when the user has no conversation at all (also on a narrow screen). */
  noThreadsHelp: "No conversations yet. When one is started with you, it shows up here.",
  /** The thread list before it could be loaded (offline, relay unreachable). */
  threadsOffline: "Your conversations will show up once you are connected.",
  unread: "{count} unread",
  online: "online",
  onlineNow: "{names} online",
  members: "{count} members",
  you: "You",
  youPrefix: "You: ",
  messages: "Messages",
  loadEarlier: "Load earlier messages",
  loadingEarlier: "Loading earlier messages…",
  beginning: "This is the beginning of the conversation.",
  noMessages: "No messages yet. Say hello!",
  /** The message view before its history could be loaded (nothing is cached). */
  messagesOffline: "Messages will show up once you are connected.",
  newMessages: "New messages ↓",
  today: "Today",
  yesterday: "Yesterday",
  composer: "Message",
  placeholder: "Write a message…",
  send: "Send",
  sending: "Sending…",
  failed: "Not sent: {reason}",
  tooLarge: "This message is too long to send. Shorten it and send it again.",
  retry: "Retry",
  edit: "Edit",
  discard: "Remove",
  /** A message's actions button; its menu reacts, replies, edits and deletes. */
  actions: "Message actions",
  /** The reactions the menu offers, separated by spaces. */
  reactionKeys: "👍 ❤️ 😂 😮 😢 🎉",
  reactWith: "React with {key}",
  reply: "Reply",
  replyingTo: "Replying to {name}: {text}",
  cancelReply: "Cancel reply",
  /** A reply's quote of the message it answers (it jumps there). */
  inReplyTo: "In reply to {text}",
  edited: "edited",
  /** A deleted message, in its place. */
  deleted: "This message was deleted.",
  editMessage: "Edit message",
  save: "Save",
  cancel: "Cancel",
  delete: "Delete",
  deleteConfirm: "Delete this message for everyone?",
  /** A change refused by the relay (it is undone). */
  notYours: "Only the sender can change this message.",
  gone: "This message no longer exists.",
  tooManyReactions: "This message cannot take more reactions.",
  typingOne: "{name} is typing…",
  typingMany: "{names} are typing…",
  seenBy: "Seen by {names}",
  connecting: "Connecting…",
  catchingUp: "Catching up…",
  /** Also before the first connection: "lost" would be wrong for a relay never reached. */
  reconnecting: "Cannot reach the chat. Retrying…",
  offline: "You are offline. Messages will be sent when you are back online.",
  caughtUp: "Connected. You are caught up.",
  /** Closed for another reason than the ones below (Reconnect is offered). */
  closed: "Disconnected.",
  forbidden: "You are not a member of this conversation.",
  /** Your words after `forbidden`, e.g. "Ask your account manager to add you." (none by default). */
  askToJoin: "",
  notFound: "This conversation does not exist.",
  unauthorized: "Your sign-in was refused.",
  /** `getToken` failed (it is called again shortly). */
  signInFailed: "Could not sign you in to the chat. Trying again…",
  /** `getToken` returned something that is not a token (the console says what). */
  badToken: "The chat could not sign you in.",
  reconnect: "Reconnect",
  tryAgain: "Try again",
  /** Why the composer is off (shown in its place). */
  sendForbidden: "Only members can send messages here.",
  sendNotFound: "There is no conversation to send to.",
  sendClosed: "Reconnect to send messages.",
  sendSignIn: "Sign in again to send messages.",
  /** The composer while `getToken` fails (or the page is offline) and the widget tries again. */
  sendWaitSignIn: "You can send messages once the chat is connected.",
  sendChoose: "Choose a conversation to send messages.",
  newMessage: "{name}: {text}",
  chooseConversation: "Choose a conversation",
  notConfigured: "Set the url and token (or getToken) of <parley-chat>.",
};

export type Strings = typeof defaultStrings;

/** Fills `{key}` placeholders with plain-text values. */
export function fmt(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in values ? String(values[key]) : whole,
  );
}
