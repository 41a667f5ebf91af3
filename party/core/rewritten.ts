/**
 * A message the app's pre-send hook rewrote is stored with other content than its sender sent,
 * so a retry of its key (with the original content) is a replay, not a conflict. The mark
 * travels with the message in memory as a symbol-keyed property: spreads keep it, JSON never
 * shows it, and the store keeps it in its own column.
 */
import type { Message } from "./types.ts";

const REWRITTEN: unique symbol = Symbol("parley.rewritten");

type Marked = Message & { [REWRITTEN]?: true };

/** Marks a message as rewritten by the hook (returns it). */
export function markRewritten<M extends Message>(message: M): M {
  (message as Marked)[REWRITTEN] = true;
  return message;
}

/** Whether the hook rewrote this message. */
export const isRewritten = (message: Message): boolean => (message as Marked)[REWRITTEN] === true;
