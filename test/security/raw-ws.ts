/**
 * A hand-rolled WebSocket client over a raw TCP socket, for frames no well-behaved library
 * will send: invalid UTF-8, unmasked frames, reserved opcodes and bits, lying length headers,
 * orphan continuations, oversized control frames.
 */
import { randomBytes } from "node:crypto";
import net from "node:net";
import type { Frame } from "../helpers/clients.ts";

export const Op = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface RawFrameOptions {
  fin?: boolean;
  /** Client frames must be masked; false sends an unmasked one. */
  mask?: boolean;
  /** The three RSV bits (0–7). */
  rsv?: number;
  /** Announce this payload length instead of the real one (the real bytes still follow). */
  declaredLength?: bigint;
}

export interface RawClose {
  /** Close code of the server's close frame; null when the TCP connection ended without one. */
  code: number | null;
  reason: string;
}

/** Encodes one client frame. */
export function encodeFrame(opcode: number, payload: Buffer, opts: RawFrameOptions = {}): Buffer {
  const fin = opts.fin ?? true;
  const mask = opts.mask ?? true;
  const len = opts.declaredLength ?? BigInt(payload.length);
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opcode & 0x0f)];
  let ext = Buffer.alloc(0);
  const maskBit = mask ? 0x80 : 0;
  if (len < 126n) head.push(maskBit | Number(len));
  else if (len < 65536n) {
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(len));
  } else {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(len);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = (payload[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([Buffer.from(head), ext, key, masked]);
}

export class RawWs {
  /** JSON text frames from the server. */
  readonly json: Frame[] = [];
  /** Every server frame: opcode and payload. */
  readonly frames: Array<{ opcode: number; payload: Buffer }> = [];
  /** Resolves when the server closed (close frame or TCP end). */
  readonly closed: Promise<RawClose>;
  private buf = Buffer.alloc(0);
  private closeInfo: RawClose | null = null;
  private markClosed: (c: RawClose) => void = () => undefined;
  private listeners = new Set<() => void>();

  private constructor(readonly socket: net.Socket) {
    this.closed = new Promise((resolve) => {
      this.markClosed = (c) => {
        if (this.closeInfo) return;
        this.closeInfo = c;
        resolve(c);
        this.notify();
      };
    });
    socket.on("close", () => this.markClosed({ code: null, reason: "tcp closed" }));
    socket.on("error", () => undefined);
  }

  /**
   * Performs the opening handshake on `port` for `path` (with its query). Resolves once the
   * server switched protocols; rejects with the status line when it answered plain HTTP.
   */
  static connect(
    port: number,
    path: string,
    opts: { headers?: Record<string, string>; version?: string; timeoutMs?: number } = {},
  ): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      const key = randomBytes(16).toString("base64");
      let head = "";
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`handshake: no answer within ${opts.timeoutMs ?? 5000} ms`));
      }, opts.timeoutMs ?? 5000);
      socket.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once("connect", () => {
        const extra = Object.entries(opts.headers ?? {})
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join("");
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${opts.version ?? "13"}\r\n${extra}\r\n`,
        );
      });
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        socket.off("data", onData);
        clearTimeout(timer);
        const statusLine = head.slice(0, head.indexOf("\r\n"));
        if (!/^HTTP\/1\.1 101 /.test(statusLine)) {
          socket.destroy();
          reject(new Error(`handshake refused: ${statusLine}`));
          return;
        }
        const ws = new RawWs(socket);
        socket.on("data", (d: Buffer) => ws.onData(d));
        const rest = Buffer.from(head.slice(end + 4), "latin1");
        if (rest.length > 0) ws.onData(rest);
        resolve(ws);
      };
      socket.on("data", onData);
    });
  }

  /** Sends one frame (see {@link encodeFrame}). Returns false when the socket is gone. */
  send(opcode: number, payload: Buffer | string, opts: RawFrameOptions = {}): boolean {
    if (this.socket.destroyed) return false;
    const data = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
    return this.socket.write(encodeFrame(opcode, data, opts));
  }

  /** Sends raw bytes as they are (a frame header without its payload, say). */
  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  sendJson(value: unknown): void {
    this.send(Op.text, JSON.stringify(value));
  }

  get isClosed(): boolean {
    return this.closeInfo !== null;
  }

  private notify() {
    for (const l of [...this.listeners]) l();
  }

  private onData(chunk: Buffer) {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (let guard = 0; guard < 100_000; guard++) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0] as number;
      const b1 = this.buf[1] as number;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      const opcode = b0 & 0x0f;
      this.frames.push({ opcode, payload: Buffer.from(payload) });
      if (opcode === Op.text) {
        try {
          this.json.push(JSON.parse(payload.toString("utf8")) as Frame);
        } catch {
          // not JSON: kept in `frames` only
        }
      } else if (opcode === Op.ping) {
        this.send(Op.pong, Buffer.from(payload));
      } else if (opcode === Op.close) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
        const reason = payload.length > 2 ? payload.subarray(2).toString("utf8") : "";
        // Answer the close handshake, then let the server end the TCP connection.
        this.send(Op.close, payload.subarray(0, Math.min(2, payload.length)));
        this.markClosed({ code, reason });
        setTimeout(() => this.socket.destroy(), 1000).unref();
      }
      this.notify();
    }
  }

  /** Waits for a JSON frame matching `pred`. */
  waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000, what = "frame"): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const f = this.json.find(pred);
        if (f) {
          done();
          resolve(f);
        } else if (this.closeInfo) {
          done();
          reject(new Error(`${what}: closed (${this.closeInfo.code}) while waiting`));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not seen within ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** The close, or `{ code: -1 }` when the server kept the connection open for `timeoutMs`. */
  async waitClose(timeoutMs = 5000): Promise<RawClose> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<RawClose>((resolve) => {
      timer = setTimeout(() => resolve({ code: -1, reason: "still open" }), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
