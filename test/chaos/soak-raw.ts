/**
 * Raw TCP clients for the hostile soak. Requests and WebSocket upgrades are written by hand so
 * that a client can stop reading wherever the attack wants (a library always reads). A client
 * that never reads cannot see the relay's answer either, so the kernel's TCP table
 * (/proc/net/tcp) tells whether the relay let go of the connection and how many bytes it has
 * pushed into it, without reading one.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";

/** How a client reads: never (not even the response head), the response head only, or all. */
export type ReadMode = "never" | "head" | "always";

const EMPTY = Buffer.alloc(0);
const HEAD_LIMIT = 16 * 1024;
const TAIL = 512;

/** A GET request head (keep-alive unless `headers` says otherwise). */
export function getRequest(port: number, path: string, headers: Record<string, string> = {}): string {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}\r\n`;
}

/** A WebSocket opening handshake (what `RawWs.connect` in test/security writes). */
export function upgradeRequest(port: number, path: string): string {
  return getRequest(port, path, {
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    "Sec-WebSocket-Version": "13",
  });
}

/**
 * One raw connection: writes its request, then reads as its mode says. What it reads is only
 * counted, never kept: the status of the first response head, the close code of a WebSocket
 * close frame (frames are skipped by their headers, payloads are not copied), and the last
 * bytes of an HTTP body (an SSE `event: close`, a second response on a kept-alive connection).
 */
export class RawClient {
  readonly socket: net.Socket;
  readonly openedAt = Date.now();
  endedAt = 0;
  localPort = 0;
  /** Status of the first response head (101: the upgrade was accepted); 0 before one. */
  status = 0;
  bytesRead = 0;
  /** Close code of a WebSocket close frame or of an SSE `event: close`. */
  closeCode: number | null = null;
  /** Set by the soak when it hangs up itself (the relay never let go). */
  hungUp = false;
  /** Bytes the relay had pushed that were still in the kernel when this client hung up. */
  inFlight = 0;
  /** Resolves when the TCP connection is gone. */
  readonly closed: Promise<void>;
  /** The relay's side of the connection was seen established in the TCP table. */
  seenByRelay = false;
  /** Set (and `letGo` resolved) when the TCP table shows that the relay let go. */
  relayLetGo = false;
  readonly letGo: Promise<void>;
  #markLetGo: () => void = () => undefined;
  #head = "";
  #tail = "";
  #partial = EMPTY;
  #skip = 0;
  #closePayload: Buffer | null = null;
  #reading = false;

  constructor(
    port: number,
    request: string,
    readonly mode: ReadMode,
  ) {
    this.socket = net.connect(port, "127.0.0.1");
    this.socket.on("error", () => undefined);
    this.socket.once("connect", () => {
      this.localPort = this.socket.localPort ?? 0;
    });
    this.closed = new Promise((resolve) =>
      this.socket.once("close", () => {
        this.endedAt = Date.now();
        resolve();
      }),
    );
    this.letGo = new Promise((resolve) => {
      this.#markLetGo = resolve;
    });
    this.socket.write(request);
    if (mode !== "never") this.read();
  }

  noteLetGo(): void {
    this.relayLetGo = true;
    this.#markLetGo();
  }

  /** Starts (or resumes) reading and counting. */
  read(): void {
    if (!this.#reading) {
      this.#reading = true;
      this.socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    }
    this.socket.resume();
  }

  /** Reads what the relay pushed, until it closes or `ms` pass, then hangs up. */
  async drain(ms: number): Promise<void> {
    this.read();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    this.socket.destroy();
  }

  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Bytes the relay managed to push: read, buffered in this process, and still in the kernel. */
  get bytesPushed(): number {
    return this.bytesRead + this.socket.readableLength + this.inFlight;
  }

  /** Status of a later response on a kept-alive connection (in the last bytes read), or 0. */
  get laterStatus(): number {
    const all = [...this.#tail.matchAll(/HTTP\/1\.1 (\d{3})/g)];
    return Number(all.at(-1)?.[1] ?? 0);
  }

  #onData(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    let body = chunk;
    if (this.status === 0) {
      this.#head += chunk.toString("latin1", 0, Math.min(chunk.length, HEAD_LIMIT));
      const end = this.#head.indexOf("\r\n\r\n");
      if (end === -1) {
        if (this.#head.length > HEAD_LIMIT) this.socket.destroy();
        return;
      }
      this.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(this.#head)?.[1] ?? -1);
      const headBytes = Buffer.byteLength(this.#head.slice(0, end + 4), "latin1");
      const seen = this.bytesRead - chunk.length;
      body = chunk.subarray(Math.max(0, headBytes - seen));
      if (this.mode === "head") this.socket.pause();
    }
    if (this.status === 101) this.#scanFrames(body);
    else this.#keepTail(body);
  }

  #keepTail(body: Buffer): void {
    this.#tail = (this.#tail + body.toString("latin1", Math.max(0, body.length - TAIL))).slice(-TAIL);
    const sseClose = /event: close\ndata: \{"code":(\d+)/.exec(this.#tail);
    if (sseClose) this.closeCode = Number(sseClose[1]);
  }

  /** Server frames are unmasked: a header of 2, 4 or 10 bytes, then the payload, skipped. */
  #scanFrames(chunk: Buffer): void {
    const buf = this.#partial.length > 0 ? Buffer.concat([this.#partial, chunk]) : chunk;
    this.#partial = EMPTY;
    let off = 0;
    for (let guard = 0; guard < 1_000_000 && off < buf.length; guard++) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, buf.length - off);
        if (this.#closePayload && this.#closePayload.length < 2) {
          this.#closePayload = Buffer.concat([this.#closePayload, buf.subarray(off, off + Math.min(n, 2))]);
          if (this.#closePayload.length >= 2) this.closeCode = this.#closePayload.readUInt16BE(0);
        }
        off += n;
        this.#skip -= n;
        continue;
      }
      if (buf.length - off < 2) break;
      const opcode = (buf[off] as number) & 0x0f;
      const len7 = (buf[off + 1] as number) & 0x7f;
      const headerBytes = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
      if (buf.length - off < headerBytes) break;
      if (len7 === 126) this.#skip = buf.readUInt16BE(off + 2);
      else if (len7 === 127) this.#skip = Number(buf.readBigUInt64BE(off + 2));
      else this.#skip = len7;
      this.#closePayload = opcode === 0x8 ? EMPTY : null;
      off += headerBytes;
    }
    if (off < buf.length) this.#partial = Buffer.from(buf.subarray(off));
  }
}

const TCP_ESTABLISHED = 0x01;
const TCP_CLOSE_WAIT = 0x08;
/** States of a side that has closed: FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, LAST_ACK, CLOSING. */
const CLOSING = new Set([0x04, 0x05, 0x06, 0x07, 0x09, 0x0b]);

interface TcpEntry {
  state: number;
  txQueue: number;
  rxQueue: number;
}

/** IPv4 TCP connections by "localPort>remotePort" (loopback only here, so ports suffice). */
export function tcpTable(): Map<string, TcpEntry> {
  const table = new Map<string, TcpEntry>();
  let text: string;
  try {
    text = readFileSync("/proc/net/tcp", "utf8");
  } catch {
    return table;
  }
  for (const line of text.split("\n").slice(1)) {
    const [, local, remote, state, queues] = line.trim().split(/\s+/);
    if (!local || !remote || !state || !queues) continue;
    const [tx, rx] = queues.split(":");
    const port = (address: string) => Number.parseInt(address.split(":")[1] ?? "", 16);
    table.set(`${port(local)}>${port(remote)}`, {
      state: Number.parseInt(state, 16),
      txQueue: Number.parseInt(tx ?? "0", 16),
      rxQueue: Number.parseInt(rx ?? "0", 16),
    });
  }
  return table;
}

/**
 * For a client that does not read: notes the bytes waiting in both kernels (the relay's send
 * queue and this client's receive queue), and whether the relay let go: its side is closing, or
 * gone after it was seen established (a connection still in the accept queue is not yet there),
 * or ours got its FIN.
 */
export function observe(client: RawClient, relayPort: number, table: Map<string, TcpEntry>): void {
  if (client.localPort === 0) return;
  const ours = table.get(`${client.localPort}>${relayPort}`);
  const theirs = table.get(`${relayPort}>${client.localPort}`);
  client.inFlight = (ours?.rxQueue ?? 0) + (theirs?.txQueue ?? 0);
  if (theirs?.state === TCP_ESTABLISHED) client.seenByRelay = true;
  const gone = theirs === undefined ? client.seenByRelay : CLOSING.has(theirs.state);
  if (gone || ours?.state === TCP_CLOSE_WAIT) client.noteLetGo();
}
