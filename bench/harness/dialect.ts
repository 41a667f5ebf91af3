/**
 * What a bench client says on a socket and how it reads what comes back, per server: Parley's
 * JSON frames (the relay and the floor), or Socket.IO's engine.io packets spoken by hand over raw
 * `ws` (so both sides pay the same light client). Frames are matched by bytes, never parsed, except
 * where a number is needed (the seq order check).
 */

export interface Dialect {
  /** Sent once the socket is open (Socket.IO: the namespace CONNECT packet). */
  hello?: string;
  /** This frame says the socket may be used (Parley: `synced`; Socket.IO: the CONNECT answer). */
  isReady(data: Buffer): boolean;
  /** A frame that must be answered to keep the socket (engine.io's ping), and its answer. */
  answer?(data: Buffer): string | undefined;
  /** A send of `body`; `ackId` is unique per socket (Socket.IO's ack id). */
  send(ackId: number, clientMessageId: string, body: string): string;
  /** A message delivered by fan-out. */
  isMessage(data: Buffer): boolean;
  /** The answer to this socket's own send. */
  isAck(data: Buffer): boolean;
  /** A refusal (Parley's `error` frame, Socket.IO's CONNECT_ERROR). */
  isError(data: Buffer): boolean;
  /** The seq of a message frame (for the order check). */
  seqOf(data: Buffer): number;
}

const SYNCED = Buffer.from('"type":"synced"');
const MESSAGE = Buffer.from('"type":"message"');
const ACK = Buffer.from('"type":"ack"');
const ERROR = Buffer.from('"type":"error"');

/** CONTRACT.md's socket protocol: JSON text frames with a `type`. */
export const parleyDialect: Dialect = {
  isReady: (data) => data.indexOf(SYNCED) !== -1,
  send: (_ackId, clientMessageId, body) => JSON.stringify({ type: "send", clientMessageId, body }),
  isMessage: (data) => data.indexOf(MESSAGE) !== -1,
  isAck: (data) => data.indexOf(ACK) !== -1,
  isError: (data) => data.indexOf(ERROR) !== -1,
  seqOf: (data) => (JSON.parse(data.toString("utf8")) as { message: { seq: number } }).message.seq,
};

// engine.io packet types are the first digit (0 open, 2 ping, 3 pong, 4 message); a Socket.IO
// packet inside a message is the second (0 CONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR).
const EVENT_MESSAGE = Buffer.from('42["message"');
const c0 = "0".charCodeAt(0);
const c2 = "2".charCodeAt(0);
const c3 = "3".charCodeAt(0);
const c4 = "4".charCodeAt(0);

/** Socket.IO v5 protocol over engine.io v4, WebSocket transport only, default namespace. */
export const socketIoDialect: Dialect = {
  hello: "40",
  isReady: (data) => data[0] === c4 && data[1] === c0,
  answer: (data) => (data.length === 1 && data[0] === c2 ? "3" : undefined),
  // What socket.io-client writes for `socket.emit("send", { clientMessageId, body }, callback)`.
  send: (ackId, clientMessageId, body) => `42${ackId}["send",${JSON.stringify({ clientMessageId, body })}]`,
  isMessage: (data) => data.subarray(0, EVENT_MESSAGE.length).equals(EVENT_MESSAGE),
  isAck: (data) => data[0] === c4 && data[1] === c3,
  isError: (data) => data[0] === c4 && data[1] === c4,
  // 42["message",{…message…},"<offset>"]: connection state recovery appends the offset.
  seqOf: (data) => (JSON.parse(data.subarray(2).toString("utf8")) as [string, { seq: number }])[1].seq,
};
