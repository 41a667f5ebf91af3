/** Many WebSocket clients in the bench process, cheap per frame: frames are Buffers, matched by bytes. */
import WebSocket from "ws";
import { type Dialect, parleyDialect } from "./dialect.ts";

export const SYNCED = Buffer.from('"type":"synced"');
export const MESSAGE = Buffer.from('"type":"message"');

/** Frame handler, swapped by each phase. `i` is the socket's index. */
export type FrameHandler = (i: number, data: Buffer) => void;
export type CloseHandler = (i: number, code: number, reason: string) => void;

export interface Clients {
  sockets: WebSocket[];
  onFrame: FrameHandler;
  onClose: CloseHandler;
  /** Time of the last frame any socket received (performance.now()). */
  lastFrameAt: number;
  /** Frames that arrived as binary (the contract says JSON text frames). */
  binaryFrames: number;
  closeAll(): Promise<void>;
}

/**
 * Open one socket per URL, at most `concurrency` handshakes at a time, and resolve when every socket
 * is ready (Parley: its `synced` frame; see dialect.ts). Rejects (and closes what it opened) on any
 * failure or on timeout.
 */
export async function openClients(
  urls: string[],
  concurrency: number,
  timeoutMs: number,
  dialect: Dialect = parleyDialect,
): Promise<Clients> {
  const clients: Clients = {
    sockets: [],
    onFrame: () => {},
    onClose: () => {},
    lastFrameAt: performance.now(),
    binaryFrames: 0,
    closeAll: () => {
      clients.onClose = () => {};
      return closeAll(clients.sockets);
    },
  };
  const deadline = Date.now() + timeoutMs;
  let next = 0;
  let failure: Error | undefined;

  const openOne = (i: number, url: string) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { skipUTF8Validation: true, handshakeTimeout: 10_000 });
      clients.sockets[i] = ws;
      let synced = false;
      const timer = setTimeout(
        () => reject(new Error(`socket ${i}: not ready (no synced frame) within ${timeoutMs} ms`)),
        Math.max(1, deadline - Date.now()),
      );
      if (dialect.hello !== undefined) {
        const hello = dialect.hello;
        ws.once("open", () => ws.send(hello));
      }
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        clients.lastFrameAt = performance.now();
        if (isBinary) clients.binaryFrames++;
        const answer = dialect.answer?.(data);
        if (answer !== undefined) ws.send(answer);
        if (!synced && dialect.isReady(data)) {
          synced = true;
          clearTimeout(timer);
          resolve();
        }
        clients.onFrame(i, data);
      });
      ws.on("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`socket ${i}: handshake answered ${res.statusCode}`));
      });
      ws.on("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`socket ${i}: ${err.message}`));
      });
      ws.on("close", (code, reason) => {
        clearTimeout(timer);
        if (!synced) reject(new Error(`socket ${i}: closed ${code} ${reason.toString()} before synced`));
        clients.onClose(i, code, reason.toString());
      });
    });

  const worker = async () => {
    while (next < urls.length && !failure) {
      const i = next++;
      try {
        await openOne(i, urls[i] as string);
      } catch (err) {
        failure ??= err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));
  if (failure) {
    await clients.closeAll();
    throw failure;
  }
  return clients;
}

/** Resolve once no socket received a frame for `quietMs`, or after `maxMs` (presence chatter etc.). */
export async function waitQuiet(clients: Clients, quietMs: number, maxMs: number): Promise<void> {
  const start = performance.now();
  while (performance.now() - start < maxMs) {
    const idle = performance.now() - clients.lastFrameAt;
    if (idle >= quietMs) return;
    await new Promise((r) => setTimeout(r, Math.max(10, quietMs - idle)));
  }
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  const pending: Promise<void>[] = [];
  for (const ws of sockets) {
    if (!ws || ws.readyState === WebSocket.CLOSED) continue;
    pending.push(new Promise<void>((r) => ws.once("close", () => r())));
    ws.terminate();
  }
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 5000))]);
}
