import type { Connection, ConnectionIdentity } from "../connection.ts";
import type { TokenBucket } from "../token-bucket.ts";

/** A connection as the room tracks it. */
export interface Peer {
  readonly conn: Connection;
  readonly identity: ConnectionIdentity;
  /** False while replaying: live fan-out skips it until the replay has caught up. */
  live: boolean;
  readonly releasePresence: () => void;
  /** Inbound frames per second this connection may send (4008 past the burst). */
  readonly frameBucket: TokenBucket;
}
