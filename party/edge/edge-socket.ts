/**
 * A hibernatable workerd WebSocket (partyserver's and PartyKit's connections) behind the
 * core's `Connection`. The verified identity lives in the socket's attachment (`state`), so it
 * survives hibernation with the socket.
 */
import type { Connection, ConnectionIdentity } from "../core/connection.ts";
import type { OutboundFrame } from "../core/outbound-frame.ts";
import { closeReason } from "../host/close-reason.ts";

/** What both runtimes' server-side sockets offer (a WebSocket with an id and a state). */
export interface EdgeWebSocket {
  readonly id: string;
  readonly readyState: number;
  readonly state: unknown;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

export class EdgeSocket implements Connection {
  constructor(readonly ws: EdgeWebSocket) {}

  get id(): string {
    return this.ws.id;
  }

  send(frame: OutboundFrame): void {
    try {
      this.ws.send(frame.text);
    } catch {
      // closed meanwhile: the close handler forgets the peer
    }
  }

  close(code: number, reason: string): void {
    try {
      this.ws.close(code, closeReason(reason));
    } catch {
      // already closed
    }
  }

  /**
   * workerd does not expose a socket's send buffer, so the slow-consumer close (4008) cannot
   * be decided here; the platform applies its own limits.
   */
  get bufferedAmount(): number {
    return 0;
  }

  get closed(): boolean {
    return this.ws.readyState >= 2;
  }
}

/** The sockets an actor kept through hibernation, with the identity each one was admitted with. */
export function keptSockets(
  sockets: Iterable<EdgeWebSocket>,
): Array<{ conn: EdgeSocket; identity: ConnectionIdentity }> {
  const kept: Array<{ conn: EdgeSocket; identity: ConnectionIdentity }> = [];
  for (const ws of sockets) {
    const identity = ws.state as ConnectionIdentity | null;
    if (identity) kept.push({ conn: new EdgeSocket(ws), identity });
  }
  return kept;
}
