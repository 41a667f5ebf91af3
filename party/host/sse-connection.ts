import type { Connection } from "../core/connection.ts";
import { CloseCode } from "../core/errors.ts";
import { noMetrics, type RelayMetrics } from "../core/metrics.ts";
import type { OutboundFrame } from "../core/outbound-frame.ts";

const encoder = new TextEncoder();
let nextId = 0;

/**
 * A room connection carried by Server-Sent Events: message frames get `id: <seq>` so that
 * `Last-Event-ID` resumes them; other frames have no id. Close codes travel as a final
 * `close` event (`{ code, reason }`), since SSE has none of its own.
 *
 * The stream is pull-based: events wait in this connection's own queue, and the HTTP server
 * takes the next one only when its socket drained. So `bufferedAmount` is what the client has
 * not taken yet (the slow-consumer signal), and a connection closed for being too slow can
 * drop that queue and still end with its `close` event.
 */
export class SseConnection implements Connection {
  readonly id = `sse-${++nextId}`;
  readonly stream: ReadableStream<Uint8Array>;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /** Set once the last event is queued: the stream closes when the queue is empty. */
  #ending = false;
  #closed = false;
  #keepAlive: ReturnType<typeof setInterval>;
  /** The HTTP server waits for the next event (its pull is pending). */
  #wakePull: (() => void) | undefined;
  /** Waiting for the queue to empty (`whenDrained`). */
  #drainWaiters: Array<() => void> = [];

  constructor(
    keepAliveMs: number,
    /** Called once when the stream ends, whichever side ended it. */
    private readonly onClosed: () => void,
    /** Counts the relay's closes by code. */
    private readonly metrics: RelayMetrics = noMetrics,
  ) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        pull: (controller) => this.#pull(controller),
        cancel: () => this.#finish(),
      },
      { highWaterMark: 0 },
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
    return this.#closed || this.#ending;
  }

  get bufferedAmount(): number {
    return this.#queuedBytes;
  }

  whenDrained(): Promise<void> {
    if (this.closed || this.#queuedBytes === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  send(frame: OutboundFrame): void {
    this.#write(
      frame.seq === undefined ? `data: ${frame.text}\n\n` : `id: ${frame.seq}\ndata: ${frame.text}\n\n`,
    );
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.metrics.closed(code, "sse");
    if (code === CloseCode.tooSlowOrFast) {
      // Too slow: what is queued would wait for a reader that does not read. Drop it; the
      // client resumes from the last id it got.
      this.#queue = [];
      this.#queuedBytes = 0;
    }
    this.#write(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
    this.#ending = true;
    this.#wakePull?.();
  }

  /**
   * The client went away (its request was aborted): the stream ends with no close event, and
   * it is no close by the relay (`parley_closes_total` counts only those).
   */
  gone(): void {
    this.#finish();
  }

  #write(text: string): void {
    if (this.closed) return;
    const bytes = encoder.encode(text);
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.byteLength;
    this.#wakePull?.();
  }

  /** The HTTP server wants the next chunk: hand it over now, or as soon as there is one. */
  #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> | undefined {
    if (this.#handOver(controller)) return undefined;
    return new Promise<void>((resolve) => {
      this.#wakePull = () => {
        if (!this.#handOver(controller)) return;
        this.#wakePull = undefined;
        resolve();
      };
    });
  }

  /** Enqueues everything queued (or ends the stream); false when there was nothing to do. */
  #handOver(controller: ReadableStreamDefaultController<Uint8Array>): boolean {
    if (this.#queue.length > 0) {
      const chunks = this.#queue;
      this.#queue = [];
      this.#queuedBytes = 0;
      for (const chunk of chunks) controller.enqueue(chunk);
      for (const wake of this.#drainWaiters.splice(0)) wake();
      return true;
    }
    if (this.#ending || this.#closed) {
      try {
        controller.close();
      } catch {
        // already cancelled by the client
      }
      this.#finish();
      return true;
    }
    return false;
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ending = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const wake of this.#drainWaiters.splice(0)) wake();
    this.#wakePull?.();
    clearInterval(this.#keepAlive);
    this.onClosed();
  }
}
