/**
 * The live thread list of the signed-in user: it opens `/parties/inbox/<userId>`, then loads
 * `GET /v1/conversations` (in that order, so no change falls between the two), and applies
 * every `thread` frame after that. Rows are ordered by latest activity.
 */
import type { BackoffOptions } from "./backoff.ts";
import { ParleyClientError } from "./errors.ts";
import { FallbackPolicy } from "./fallback-policy.ts";
import type { HttpApi } from "./http.ts";
import { Reason } from "./reasons.ts";
import { Session, type SessionEvents } from "./session.ts";
import { subjectOf, type TokenSource } from "./token.ts";
import { ThreadPollTransport } from "./transports/thread-poll.ts";
import type {
  Transport,
  TransportClose,
  TransportHandlers,
  TransportTimings,
} from "./transports/transport.ts";
import { WebSocketTransport } from "./transports/websocket.ts";
import type { ServerFrame, ThreadItem } from "./types.ts";
import type { WakeTargets } from "./wake.ts";

/** Events of the inbox. */
export interface InboxEvents extends SessionEvents {
  /** The whole list changed (loaded, one row updated, or one removed): newest activity first. */
  threads: ThreadItem[];
  /** One row changed. */
  thread: ThreadItem;
}

/** @internal Everything the inbox needs from its client. */
export interface InboxConfig {
  api: HttpApi;
  tokens: TokenSource;
  baseUrl: string;
  instanceId: string;
  userId: string | undefined;
  WebSocket: unknown;
  /** Whether a WebSocket may be used (one exists, and the transport preference allows it). */
  webSocket: boolean;
  /** `auto`: WebSocket failures (while HTTP works) before polling instead. */
  fallbackAfter: number;
  /** Polling interval when there is no WebSocket. */
  pollMs: number;
  timings: TransportTimings;
  reconnectDelay: BackoffOptions;
  wake: WakeTargets;
  onClosed: () => void;
}

/** Most pages of the thread list loaded on each (re)connect. */
const MAX_PAGES = 50;

/** Whether `a` is at least as new as `b` (both counters only move forward). */
const newer = (a: ThreadItem, b: ThreadItem): boolean =>
  a.lastSeq > b.lastSeq || (a.lastSeq === b.lastSeq && a.lastReadSeq >= b.lastReadSeq);

const activity = (t: ThreadItem): string => t.lastMessage?.createdAt ?? "";

export class Inbox extends Session<InboxEvents> {
  #cfg: InboxConfig;
  #threads = new Map<string, ThreadItem>();
  #loading = 0;
  /**
   * Rows a frame updated or removed during a load: the frame may be newer than the page, so
   * the load neither prunes them nor brings a removed one back.
   */
  #framed = new Set<string>();
  #polling: boolean;
  #fallback: FallbackPolicy;

  /** @internal Use `client.inbox()`. */
  constructor(cfg: InboxConfig) {
    super({ tokens: cfg.tokens, reconnectDelay: cfg.reconnectDelay, wake: cfg.wake });
    this.#cfg = cfg;
    this.#fallback = new FallbackPolicy(cfg.fallbackAfter);
    this.#polling = !cfg.webSocket;
    this.start();
  }

  /** The thread list, newest activity first. */
  get threads(): ThreadItem[] {
    return [...this.#threads.values()].sort(
      (a, b) => activity(b).localeCompare(activity(a)) || b.lastSeq - a.lastSeq || a.id.localeCompare(b.id),
    );
  }

  /** Total unread messages across threads. */
  get unread(): number {
    let n = 0;
    for (const t of this.#threads.values()) n += t.unread;
    return n;
  }

  /** Whether the list is polled over HTTP rather than pushed over the inbox socket. */
  get polling(): boolean {
    return this.#polling;
  }

  protected override async beforeConnect(): Promise<Reason | undefined> {
    if (this.#polling) return;
    const httpWorks = () =>
      this.#cfg.api.threads({ limit: 1 }, { renew: false }).then(
        () => true,
        () => false,
      );
    if (await this.#fallback.shouldFallBack(httpWorks)) {
      this.#polling = true;
      return Reason.TransportFallback;
    }
  }

  protected override onTransportEnd(_info: TransportClose, reachedLive: boolean): void {
    if (reachedLive) this.#fallback.succeeded();
    else if (!this.#polling) this.#fallback.failed();
  }

  protected override openTransport(token: string, handlers: TransportHandlers): Transport {
    if (this.#polling)
      return new ThreadPollTransport(this.#cfg.api, this.#cfg.pollMs, handlers, this.#threads);
    const userId = this.#cfg.userId ?? subjectOf(token);
    if (!userId) throw new ParleyClientError("config", "the token has no sub claim: pass userId");
    return new WebSocketTransport(
      {
        baseUrl: this.#cfg.baseUrl,
        party: "inbox",
        room: userId,
        query: { token },
        instanceId: this.#cfg.instanceId,
        WebSocket: this.#cfg.WebSocket,
      },
      this.#cfg.timings,
      handlers,
    );
  }

  protected override onTransportOpen(transport: Transport): void {
    const load = ++this.#loading;
    void this.#load().then(
      () => {
        if (load !== this.#loading || this.transport !== transport) return;
        this.markLive(Reason.ListLoaded);
        this.emit("threads", this.threads);
      },
      (error: unknown) => {
        if (load !== this.#loading || this.transport !== transport) return;
        this.reportError(
          error instanceof ParleyClientError
            ? error
            : new ParleyClientError("network", `loading the thread list: ${String(error)}`),
        );
        this.disconnect(Reason.TransportClosed, { reconnect: true });
      },
    );
  }

  protected override onFrame(frame: ServerFrame): void {
    if (frame.type === "thread_removed") {
      this.#framed.add(frame.conversationId);
      if (this.#threads.delete(frame.conversationId)) this.emit("threads", this.threads);
      return;
    }
    if (frame.type !== "thread") return;
    this.#framed.add(frame.conversation.id);
    if (this.#upsert(frame.conversation)) {
      const row = this.#threads.get(frame.conversation.id);
      if (row) this.emit("thread", row);
      this.emit("threads", this.threads);
    }
  }

  protected override onDisconnected(): void {
    this.#loading++;
  }

  protected override onClosed(): void {
    this.#cfg.onClosed();
  }

  async #load(): Promise<void> {
    this.#framed.clear();
    let cursor: string | undefined;
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.#cfg.api.threads({ cursor, limit: 200 });
      for (const item of res.conversations) {
        seen.add(item.id);
        // A framed row that is not here was removed by its frame.
        if (this.#threads.has(item.id) || !this.#framed.has(item.id)) this.#upsert(item);
      }
      if (!res.nextCursor) break;
      cursor = res.nextCursor;
    }
    // Threads we were removed from while away.
    for (const id of [...this.#threads.keys()]) {
      if (!seen.has(id) && !this.#framed.has(id)) this.#threads.delete(id);
    }
  }

  #upsert(item: ThreadItem): boolean {
    const known = this.#threads.get(item.id);
    if (known && !newer(item, known)) return false;
    this.#threads.set(item.id, item);
    return true;
  }
}
