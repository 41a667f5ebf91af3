import type { Reason } from "./reasons.ts";

/**
 * The states of a conversation (and of the inbox):
 * `connecting → syncing → live → reconnecting → syncing → live … → closed`.
 */
export enum State {
  /** First connection attempt. */
  Connecting = "connecting",
  /** Connected; replaying what was missed (and filling gaps) before going live. */
  Syncing = "syncing",
  /** Caught up; frames arrive as they happen. */
  Live = "live",
  /** Lost the connection (or never got one): waiting to retry, or retrying. */
  Reconnecting = "reconnecting",
  /** Stopped for good: `close()`, 4009, 4003, 4004 or a token that cannot be refreshed. */
  Closed = "closed",
}

/** The payload of every `state` event. */
export interface StateChange {
  oldState: State;
  newState: State;
  reason: Reason;
}

const allowed: Record<State, readonly State[]> = {
  [State.Connecting]: [State.Syncing, State.Reconnecting, State.Closed],
  [State.Syncing]: [State.Live, State.Reconnecting, State.Closed],
  [State.Live]: [State.Syncing, State.Reconnecting, State.Closed],
  [State.Reconnecting]: [State.Syncing, State.Closed],
  [State.Closed]: [],
};

/** Whether the state machine has an edge `from → to`. */
export function canTransition(from: State, to: State): boolean {
  return allowed[from].includes(to);
}
