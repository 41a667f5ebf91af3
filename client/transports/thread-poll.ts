/**
 * The inbox without a WebSocket (none in this runtime, or blocked by a proxy): it polls
 * `GET /v1/conversations` and reports every row as a `thread` frame; the inbox keeps only rows
 * newer than what it has. When one page holds the whole list, a row the inbox has that is not
 * on it is reported as `thread_removed` (the user was removed from that conversation). Slower
 * than the socket, but the list stays current.
 */
import type { HttpApi } from "../http.ts";
import { closeForError } from "./http-close.ts";
import type { Transport, TransportClose, TransportHandlers } from "./transport.ts";

/** Rows fetched per poll (the most recently active ones). */
const POLL_LIMIT = 200;

export class ThreadPollTransport implements Transport {
  readonly kind = "longpoll";
  readonly canSend = false;
  #done = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();
  #lastActivity = Date.now();

  readonly #api: HttpApi;
  readonly #interval: number;
  readonly #handlers: TransportHandlers;

  readonly #rows: ReadonlyMap<string, unknown>;

  constructor(
    api: HttpApi,
    intervalMs: number,
    handlers: TransportHandlers,
    /** The inbox's rows by conversation id. */
    rows: ReadonlyMap<string, unknown>,
  ) {
    this.#handlers = handlers;
    this.#rows = rows;
    this.#interval = intervalMs;
    this.#api = api;
    // Open at once: the inbox loads the full list itself on open.
    queueMicrotask(() => {
      if (this.#done) return;
      this.#handlers.onOpen();
      this.#schedule();
    });
  }

  #schedule(): void {
    this.#timer = setTimeout(() => void this.#poll(), this.#interval);
  }

  async #poll(): Promise<void> {
    try {
      // A 401 ends this connection: the session renews the token (once per attempt).
      const page = await this.#api.threads(
        { limit: POLL_LIMIT },
        { signal: this.#abort.signal, renew: false },
      );
      if (this.#done) return;
      this.#lastActivity = Date.now();
      // Only a complete list proves a row gone: past one page, a missing row may just be older.
      const listed = page.nextCursor === null && new Set(page.conversations.map((c) => c.id));
      for (const conversation of page.conversations) this.#handlers.onFrame({ type: "thread", conversation });
      if (listed)
        for (const id of [...this.#rows.keys()])
          if (!listed.has(id)) this.#handlers.onFrame({ type: "thread_removed", conversationId: id });
      this.#schedule();
    } catch (error) {
      this.#finish(closeForError(error, true));
    }
  }

  send(): boolean {
    return false;
  }

  probe(): void {
    clearTimeout(this.#timer);
    void this.#poll();
  }

  idleMs(): number {
    return Date.now() - this.#lastActivity;
  }

  close(): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
  }

  #finish(info: Omit<TransportClose, "opened">): void {
    if (this.#done) return;
    this.close();
    this.#handlers.onClose({ ...info, opened: true });
  }
}
