/**
 * Server-Sent Events over `fetch` streaming rather than `EventSource`: it can send the token in
 * a header, read HTTP refusals (401/403/404/429), resume with our own seq cursor, and it runs
 * the same in browsers, Node and Deno. The relay ends a stream it closes with an `event: close`
 * carrying `{ code, reason }`, and sends a `: ping` comment every 15 s, which our idle watchdog
 * counts as life.
 */

import { parseServerFrame } from "../frames.ts";
import { errorFromResponse, type FetchLike } from "../http.ts";
import { CloseCode } from "../reasons.ts";
import { closeForError, closeForStatus } from "./http-close.ts";
import { SseParser } from "./sse-parser.ts";
import {
  type Transport,
  TransportBase,
  type TransportClose,
  type TransportHandlers,
  type TransportTimings,
} from "./transport.ts";

export interface SseTarget {
  /** Full URL of `/v1/conversations/<id>/events` with its query (`after`, `_pk`). */
  url: string;
  token: string;
  fetch: FetchLike;
}

export class SseTransport extends TransportBase implements Transport {
  readonly kind = "sse";
  readonly canSend = false;
  #abort = new AbortController();
  #lastActivity = Date.now();
  #watchdog: ReturnType<typeof setInterval> | undefined;

  readonly #timings: TransportTimings;

  constructor(target: SseTarget, timings: TransportTimings, handlers: TransportHandlers) {
    super(handlers);
    this.#timings = timings;
    void this.#run(target);
  }

  async #run(target: SseTarget): Promise<void> {
    const connectTimer = setTimeout(
      () => this.finish({ code: CloseCode.abnormal, reason: "connect timeout" }),
      this.#timings.connectTimeoutMs,
    );
    let res: Response;
    try {
      res = await target.fetch(target.url, {
        headers: { accept: "text/event-stream", authorization: `Bearer ${target.token}` },
        signal: this.#abort.signal,
        cache: "no-store",
      });
    } catch (error) {
      this.finish(closeForError(error, false));
      return;
    } finally {
      clearTimeout(connectTimer);
    }
    if (this.done) {
      await res.body?.cancel().catch(() => undefined);
      return;
    }
    if (res.status !== 200 || !res.body) {
      const error = await errorFromResponse(res);
      this.finish(closeForStatus(res.status, error.message, false, error.retryAfterMs));
      return;
    }
    this.opened = true;
    this.#lastActivity = Date.now();
    this.#startWatchdog();
    this.handlers.onOpen();
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    try {
      while (!this.done) {
        const { done, value } = await reader.read();
        if (done) break;
        this.#lastActivity = Date.now();
        for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
          if (this.done) break;
          if (event.event === "close") {
            this.finish(parseClose(event.data));
            break;
          }
          const frame = parseServerFrame(event.data);
          if (frame) this.handlers.onFrame(frame);
        }
      }
      this.finish({ code: CloseCode.abnormal, reason: "the event stream ended" });
    } catch (error) {
      this.finish(closeForError(error, true));
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }

  #startWatchdog(): void {
    const idle = this.#timings.sseIdleTimeoutMs;
    this.#watchdog = setInterval(
      () => {
        if (Date.now() - this.#lastActivity > idle) {
          this.finish({ code: CloseCode.abnormal, reason: "no data on the stream", heartbeatTimeout: true });
        }
      },
      Math.max(50, Math.min(1000, Math.floor(idle / 4))),
    );
  }

  send(): boolean {
    return false;
  }

  probe(): void {
    // The session probes SSE over HTTP (see Conversation); nothing to send on the stream.
  }

  idleMs(): number {
    return Date.now() - this.#lastActivity;
  }

  protected override stop(): void {
    clearInterval(this.#watchdog);
    this.#abort.abort();
  }
}

function parseClose(data: string): Omit<TransportClose, "opened"> {
  try {
    const v = JSON.parse(data) as { code?: unknown; reason?: unknown };
    if (typeof v.code === "number") {
      return { code: v.code, reason: typeof v.reason === "string" ? v.reason : "" };
    }
  } catch {
    // fall through
  }
  return { code: CloseCode.abnormal, reason: "malformed close event" };
}
