/**
 * Every word the widget shows or announces. Override any of them for another language:
 * `chat.strings = { send: "Senden", typingOne: "{name} schreibt …" }`. `{name}`-style
 * placeholders are filled in as plain text (never as HTML).
 */
export const defaultStrings = {
  threads: "Conversations",
  showThreads: "Show conversations",
  noThreads: "No conversations yet",
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
  composer: "Message",
  placeholder: "Write a message…",
  send: "Send",
  sending: "Sending…",
  failed: "Not sent: {reason}",
  retry: "Retry",
  discard: "Remove",
  typingOne: "{name} is typing…",
  typingMany: "{names} are typing…",
  seenBy: "Seen by {names}",
  connecting: "Connecting…",
  catchingUp: "Catching up…",
  reconnecting: "Connection lost. Reconnecting…",
  offline: "You are offline. Messages will be sent when you are back online.",
  caughtUp: "Connected. You are caught up.",
  closed: "Disconnected: {reason}",
  forbidden: "you are not a member of this conversation",
  notFound: "this conversation does not exist",
  unauthorized: "your sign-in was refused",
  reconnect: "Reconnect",
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
