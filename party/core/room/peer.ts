import type { Connection, ConnectionIdentity } from "../connection.ts";
import type { InboundBudget } from "../flow-control.ts";

/** A connection as the room tracks it. */
export interface Peer {
  readonly conn: Connection;
  readonly identity: ConnectionIdentity;
  /** False while replaying: live fan-out skips it until the replay has caught up. */
  live: boolean;
  readonly releasePresence: () => void;
  /** Frames and bytes this connection may send (4008 past either). */
  readonly inbound: InboundBudget;
}
