/**
 * Who saw a message: a webhook's `data.recipients`, decided when the message's batch is
 * planned (just before its commit) and stored with it, so a back end can notify only the
 * members who were not there. The rule (README, "Your back end"):
 * - online: a member other than the sender with, at that moment, a WebSocket or SSE stream open
 *   to the conversation (also one still replaying: it gets the message before `synced`), a
 *   long-poll waiting or answered within the presence grace (a long-poll client is between two
 *   polls), or a live inbox socket (their thread list shows the message);
 * - offline: every other member except the sender.
 */

/** Members and who among them is connected, as the room knows it when it plans a batch. */
export interface Attendance {
  members: readonly string[];
  online: ReadonlySet<string>;
}

/** The JSON `{ online, offline }` stored with one message of `senderId`. */
export function recipientsJson(attendance: Attendance, senderId: string): string {
  const online: string[] = [];
  const offline: string[] = [];
  for (const member of attendance.members) {
    if (member === senderId) continue;
    (attendance.online.has(member) ? online : offline).push(member);
  }
  return JSON.stringify({ online, offline });
}
