/**
 * HTTP long-poll: `GET …/log?after=<seq>&wait=<s>` in a loop. Each entry (a message, or a
 * change with its message) is handed on exactly as the socket's frame. The first rounds answer
 * at once (catch-up, `wait=0`) until `hasMore` is false, which plays the part of `synced`; then
 * each request is held until an entry arrives or `wait` passes. It cannot stream typing, read
 * receipts or presence, so it polls the last two every `signalPollMs` (typing is not
 * available on this transport).
 */
import type { HttpApi } from "../http.ts";
import { entrySeq } from "../sequencer.ts";
import { closeForError } from "./http-close.ts";
import { type Transport, TransportBase, type TransportHandlers, type TransportTimings } from "./transport.ts";

export interface LongPollTarget {
  api: HttpApi;
  conversationId: string;
  /** Resume after this seq; undefined starts at the current end. */
  after: number | undefined;
}

const PAGE = 200;

export class LongPollTransport extends TransportBase implements Transport {
  readonly kind = "longpoll";
  readonly canSend = false;
  #abort = new AbortController();
  /**
   * Every request of this connection: aborted with it, and a 401 ends it (the session renews
   * the token, once per attempt) instead of being renewed here too.
   */
  #call = { signal: this.#abort.signal, renew: false };
  #lastActivity = Date.now();
  #signals: ReturnType<typeof setInterval> | undefined;

  readonly #target: LongPollTarget;
  readonly #timings: TransportTimings;

  constructor(target: LongPollTarget, timings: TransportTimings, handlers: TransportHandlers) {
    super(handlers);
    this.#timings = timings;
    this.#target = target;
    void this.#run();
  }

  async #run(): Promise<void> {
    const { api, conversationId } = this.#target;
    const connectTimeout = this.#timings.connectTimeoutMs;
    try {
      let cursor = this.#target.after;
      if (cursor === undefined) {
        const head = await api.history(
          conversationId,
          { limit: 1 },
          { ...this.#call, timeoutMs: connectTimeout },
        );
        cursor = head.lastSeq;
      }
      let synced = false;
      while (!this.done) {
        const wait = synced ? this.#timings.longPollWaitSeconds : 0;
        const page = await api.log(
          conversationId,
          { after: cursor, limit: PAGE, wait },
          { ...this.#call, timeoutMs: wait * 1000 + connectTimeout },
        );
        if (this.done) return;
        this.#lastActivity = Date.now();
        if (!this.opened) {
          this.opened = true;
          this.handlers.onOpen();
          this.#startSignals();
        }
        for (const entry of page.entries) {
          if (this.done) return;
          const seq = entrySeq(entry);
          if (seq <= cursor) continue;
          this.handlers.onFrame(entry);
          cursor = seq;
        }
        if (!synced && !page.hasMore) {
          synced = true;
          // A log that ends below our cursor (a wiped database) is reported as it is, and
          // followed: polling after the old cursor would wait for seqs the relay reuses.
          if (page.lastSeq < cursor) cursor = page.lastSeq;
          this.handlers.onFrame({ type: "synced", lastSeq: Math.max(cursor, page.lastSeq) });
        }
      }
    } catch (error) {
      this.finish(closeForError(error, this.opened));
    }
  }

  #startSignals(): void {
    const poll = async () => {
      const { api, conversationId } = this.#target;
      try {
        const [info, online] = await Promise.all([
          api.conversation(conversationId, this.#call),
          api.presence(conversationId, this.#call),
        ]);
        if (this.done) return;
        for (const m of info.members) {
          this.handlers.onFrame({ type: "read", userId: m.userId, seq: m.lastReadSeq });
        }
        this.handlers.onFrame({ type: "presence", online });
      } catch {
        // The next round tries again; the message loop reports real failures.
      }
    };
    void poll();
    this.#signals = setInterval(() => void poll(), this.#timings.signalPollMs);
  }

  send(): boolean {
    return false;
  }

  probe(): void {
    // Each request has its own timeout: a dead connection shows up within wait + connect timeout.
  }

  idleMs(): number {
    return Date.now() - this.#lastActivity;
  }

  protected override stop(): void {
    clearInterval(this.#signals);
    this.#abort.abort();
  }
}
