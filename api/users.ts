/**
 * The `users` map of answers that refer to users (see party/host/profiles.ts): the profiles of
 * the senders, change authors and members the answer names, beside its rows.
 */
import type { LogEntry, Message, ThreadItem } from "../protocol/index.ts";
import type { ApiContext } from "./context.ts";

/** `value` with a `users` map of these users' profiles, when any of them has one. */
export async function withUsers<T extends object>(
  c: ApiContext,
  app: string,
  value: T,
  userIds: Iterable<string | null | undefined>,
): Promise<T> {
  const users = await c.get("deps").profiles.users(app, userIds);
  return users ? { ...value, users } : value;
}

export const sendersOf = (messages: readonly Message[]) => messages.map((m) => m.senderId);

/** Who a log page names: the senders of its messages and the authors of its changes. */
export function peopleOfLog(entries: readonly LogEntry[]): Array<string | null> {
  return entries.flatMap((e) =>
    e.type === "change" ? [e.change.userId, e.message.senderId] : [e.message.senderId],
  );
}

/** Who a thread-list page names: the last senders first, then the members. */
export function peopleOfThreads(rows: readonly ThreadItem[]): string[] {
  return [
    ...rows.flatMap((r) => (r.lastMessage ? [r.lastMessage.senderId] : [])),
    ...rows.flatMap((r) => r.members),
  ];
}
