import type { Connection } from "../core/connection.ts";
import { CloseCode } from "../core/errors.ts";
import type { OutboundFrame } from "../core/outbound-frame.ts";

const encoder = new TextEncoder();
/** Bytes the stream holds before it reports backpressure to the room. */
const HIGH_WATER_MARK = 64 * 1024;
let nextId = 0;

/**
 * A room connection carried by Server-Sent Events: message frames get `id: <seq>` so that
 * `Last-Event-ID` resumes them; other frames have no id. Close codes travel as a final
 * `close` event (`{ code, reason }`), since SSE has none of its own.
 */
export class SseConnection implements Connection {
  readonly id = `sse-${++nextId}`;
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #closed = false;
  #keepAlive: ReturnType<typeof setInterval>;
  /** Waiting for the reader to want more (`whenDrained`). */
  #drainWaiters: Array<() => void> = [];

  constructor(
    keepAliveMs: number,
    /** Called once when the stream ends, whichever side ended it. */
    private readonly onClosed: () => void,
  ) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        // The HTTP server pulls when the socket drained: the queue is below its high-water mark.
        pull: () => this.#wakeDrainWaiters(),
        cancel: () => this.#finish(),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER_MARK }),
    );
    // Comments keep proxies from timing the stream out; clients ignore them.
    this.#keepAlive = setInterval(() => this.#write(": ping\n\n"), keepAliveMs);
    (this.#keepAlive as { unref?: () => void }).unref?.();
    this.#write("retry: 1000\n\n");
  }

  /** The streaming HTTP response that carries this connection. */
  response(): Response {
    return new Response(this.stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
      },
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bufferedAmount(): number {
    return Math.max(0, HIGH_WATER_MARK - (this.#controller.desiredSize ?? 0));
  }

  whenDrained(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #wakeDrainWaiters(): void {
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  send(frame: OutboundFrame): void {
    this.#write(
      frame.seq === undefined ? `data: ${frame.text}\n\n` : `id: ${frame.seq}\ndata: ${frame.text}\n\n`,
    );
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    if (code === CloseCode.tooSlowOrFast) {
      // Too slow: what is queued would wait for a reader that does not read. Abort the
      // stream instead, which drops the queue and the connection (the client resumes).
      try {
        this.#controller.error(new Error("too slow: outbound buffer full"));
      } catch {
        // already cancelled
      }
      this.#finish();
      return;
    }
    this.#write(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
    try {
      this.#controller.close();
    } catch {
      // already cancelled by the client
    }
    this.#finish();
  }

  #write(text: string): void {
    if (this.#closed) return;
    try {
      this.#controller.enqueue(encoder.encode(text));
    } catch {
      this.#finish();
    }
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakeDrainWaiters();
    clearInterval(this.#keepAlive);
    this.onClosed();
  }
}
