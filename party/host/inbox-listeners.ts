/**
 * Which users have an inbox that listens, as the hosts of actor runtimes keep it (the edge):
 * so that creating a conversation tells only the members someone is watching, and wakes no
 * inbox actor of the others.
 *
 * Why it is right without a lock: the inbox writes its mark (`mark(…, true)`) before it reads the
 * user's conversations to register with their rooms, and the creator reads the marks
 * (`among`) after the conversation's insert. In the database one of the two comes second, and it
 * sees the other: either the creator finds the mark and tells the inbox, or the inbox's read
 * finds the new conversation and registers there. Both may happen; registering is idempotent.
 *
 * A mark left behind (an actor gone without unregistering) costs one wake of that inbox per
 * new conversation until the inbox, answering that it does not listen, takes it back.
 */
export interface InboxListenerIndex {
  /** The user's inbox listens (true) or no longer does (false). */
  mark(app: string, userId: string, listening: boolean): Promise<void>;
  /** The ones among `userIds` whose inbox is marked as listening. */
  among(app: string, userIds: readonly string[]): Promise<Set<string>>;
}
