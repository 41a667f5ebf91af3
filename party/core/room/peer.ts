import type { Connection, ConnectionIdentity } from "../connection.ts";
import type { InboundBudget } from "../flow-control.ts";

/** A connection as the room tracks it. */
export interface Peer {
  readonly conn: Connection;
  readonly identity: ConnectionIdentity;
  /** False while replaying: live fan-out skips it until the replay has caught up. */
  live: boolean;
  /** Its hold on its user's presence (`PresenceTracker.open`), given back when it leaves. */
  readonly presenceEpoch: number;
  /**
   * Frames and bytes this connection may send (4008 past either), made at its first frame
   * (`Fanout.charge`): most sockets stay idle, and a budget starts full either way.
   */
  inbound: InboundBudget | undefined;
}
