/** `createParleyClient()`: one client per signed-in user, holding its conversations and inbox. */
import type { BackoffOptions } from "./backoff.ts";
import { Conversation, type ConversationOptions, type TransportPreference } from "./conversation.ts";
import { Emitter } from "./emitter.ts";
import { ParleyClientError } from "./errors.ts";
import { type FetchLike, HttpApi } from "./http.ts";
import { newInstanceId } from "./ids.ts";
import { Inbox } from "./inbox.ts";
import { defaultOutboxStorage } from "./outbox/default-storage.ts";
import type { OutboxStorage } from "./outbox/storage.ts";
import { subjectOf, type TokenProvider, TokenSource } from "./token.ts";
import type { TransportTimings } from "./transports/transport.ts";
import type { Profile, ThreadItem, Users } from "./types.ts";
import { type DocumentLike, defaultWakeTargets, type WakeTargets, type WindowLike } from "./wake.ts";

/** Options of {@link createParleyClient}. Only `url` and `token` are required. */
export interface ParleyClientOptions {
  /** The relay's base URL, e.g. `https://chat.example.com` (`ws(s)://` is derived from it). */
  url: string;
  /**
   * The user's token, or a function returning one. A function is called again whenever the
   * relay refuses the current token (socket close 4001, HTTP 401).
   */
  token: TokenProvider;
  /** Receive over `websocket`, `sse` or `longpoll`; `auto` (default) falls back and upgrades back. */
  transport?: TransportPreference;
  /** Send messages, typing and read receipts over `http` (default) or the `socket`. */
  sendOver?: "http" | "socket";
  /** A WebSocket class: required in Node (`import WebSocket from "ws"`); browsers and Deno have one. */
  WebSocket?: unknown;
  /** A fetch function (default: the global one). */
  fetch?: FetchLike;
  /** Where pending sends are kept: IndexedDB in browsers, memory elsewhere by default. */
  outbox?: OutboxStorage;
  /** The user id (default: the token's `sub`); needed for the inbox and to scope the outbox. */
  userId?: string;
  /**
   * This client instance (`_pk`). A newer connection with the same id replaces an older one,
   * which stops with reason `replaced`. Default: random per client.
   */
  instanceId?: string;
  /** Our own WebSocket ping after this much silence (default 20 000 ms). */
  heartbeatMs?: number;
  /** A ping unanswered this long means the connection is dead (default 10 000 ms). */
  pongTimeoutMs?: number;
  /** Give up on a connection attempt after this long (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** HTTP requests (sends, history, reads) time out after this long (default 15 000 ms). */
  requestTimeoutMs?: number;
  /** SSE with no bytes at all for this long is dead (default 40 000 ms; the relay pings every 15 s). */
  sseIdleTimeoutMs?: number;
  /** Long-poll `wait` in seconds (default 25, at most 30). */
  longPollWaitSeconds?: number;
  /** Long-poll: refresh presence and read positions this often (default 5 000 ms). */
  signalPollMs?: number;
  /** The inbox without a WebSocket: poll the thread list this often (default 10 000 ms). */
  inboxPollMs?: number;
  /** Reconnect backoff (default 500 ms doubling to 15 000 ms, jittered). */
  reconnectDelay?: Partial<BackoffOptions>;
  /** Send retry backoff (default 300 ms doubling to 15 000 ms, jittered; `Retry-After` is a floor). */
  retryDelay?: Partial<BackoffOptions>;
  /** `auto`: consecutive failures of a transport (while HTTP works) before falling back (default 2). */
  fallbackAfter?: number;
  /** `auto`: try WebSocket again this long after falling back, doubling on failure (default 60 000 ms). */
  upgradeAfterMs?: number;
  /** At most one typing signal per this many ms (default 2 000). */
  typingThrottleMs?: number;
  /** A send over the socket (or HTTP) without an answer this long is retried (default 10 000 ms). */
  ackTimeoutMs?: number;
  /** `window` for the `online` event (default: the global one, if any; null: none). */
  window?: WindowLike | null;
  /** `document` for `visibilitychange` (default: the global one, if any; null: none). */
  document?: DocumentLike | null;
}

/** What a {@link ParleyClient} emits. */
export interface ClientEvents {
  /** Profiles arrived or changed (with history, the log, a conversation, the thread list). */
  profiles: { userIds: string[] };
}

/** The "no WebSocket class" advice was given (once per process). */
let warnedNoWebSocket = false;

/** A Parley client for one user. Create it with {@link createParleyClient}. */
export class ParleyClient extends Emitter<ClientEvents> {
  /** The HTTP API with this client's token (history, thread list, raw calls). */
  readonly api: HttpApi;
  readonly #options: ParleyClientOptions;
  readonly #tokens: TokenSource;
  readonly #baseUrl: string;
  readonly #instanceId: string;
  readonly #fetch: FetchLike;
  readonly #outbox: OutboxStorage;
  readonly #wake: WakeTargets;
  readonly #timings: TransportTimings;
  #conversations = new Map<string, Conversation>();
  #profiles = new Map<string, Profile>();
  #inbox: Inbox | undefined;
  #userId: string | undefined;
  #closed = false;

  /** @internal Use {@link createParleyClient}. */
  constructor(options: ParleyClientOptions) {
    super();
    if (!options.url) throw new ParleyClientError("config", "parley: url is required");
    if (options.token === undefined) throw new ParleyClientError("config", "parley: token is required");
    const fetchFn = options.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined);
    if (!fetchFn) throw new ParleyClientError("config", "parley: no fetch available; pass the fetch option");
    if (options.transport === "websocket" && !this.#webSocket(options)) {
      throw new ParleyClientError(
        "config",
        'parley: transport "websocket", but no WebSocket class here: pass WebSocket (e.g. from "ws")',
      );
    }
    if ((options.transport ?? "auto") === "auto" && !this.#webSocket(options) && !warnedNoWebSocket) {
      // Not an error (SSE and long-poll work), but the inbox then polls instead of being
      // pushed, and someone who forgot the option in Node 20 should hear of it: once per
      // process, not once per client (a back end may make one per user).
      warnedNoWebSocket = true;
      console.warn(
        'parley: "auto" uses SSE and the inbox polls, as there is no WebSocket class here: pass WebSocket (e.g. from "ws")',
      );
    }
    this.#options = options;
    this.#baseUrl = options.url.replace(/\/+$/, "");
    this.#fetch = fetchFn;
    this.#tokens = new TokenSource(options.token);
    this.#instanceId = options.instanceId ?? newInstanceId();
    this.#outbox = options.outbox ?? defaultOutboxStorage();
    const defaults = defaultWakeTargets();
    this.#wake = {
      window: options.window === undefined ? defaults.window : options.window,
      document: options.document === undefined ? defaults.document : options.document,
    };
    this.#userId =
      options.userId ?? (typeof options.token === "string" ? subjectOf(options.token) : undefined);
    this.#timings = {
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      heartbeatMs: options.heartbeatMs ?? 20_000,
      pongTimeoutMs: options.pongTimeoutMs ?? 10_000,
      sseIdleTimeoutMs: options.sseIdleTimeoutMs ?? 40_000,
      longPollWaitSeconds: Math.min(30, Math.max(0, options.longPollWaitSeconds ?? 25)),
      signalPollMs: options.signalPollMs ?? 5_000,
    };
    this.api = new HttpApi(
      this.#baseUrl,
      this.#fetch,
      this.#tokens,
      options.requestTimeoutMs ?? 15_000,
      (users) => this.#learn(users),
    );
  }

  /**
   * A user's profile (display name and picture), as the relay last sent it beside history,
   * the log, a conversation's members or the thread list; undefined while none is known.
   * `profiles` is emitted when one arrives or changes.
   */
  profile(userId: string): Profile | undefined {
    return this.#profiles.get(userId);
  }

  #learn(users: Users): void {
    const userIds = Object.keys(users).filter((id) => {
      const known = this.#profiles.get(id);
      const p = users[id];
      if (!p || (known?.name === p.name && known?.picture === p.picture)) return false;
      this.#profiles.set(id, p);
      return true;
    });
    if (userIds.length) this.emit("profiles", { userIds });
  }

  /** The user id (the token's `sub`), once a token has been seen. */
  get userId(): string | undefined {
    return this.#userId;
  }

  /**
   * The conversation `id`, connecting now. One object per id per client: calling it again
   * returns the same object until it is closed.
   */
  conversation(id: string, options: ConversationOptions = {}): Conversation {
    if (this.#closed) throw new ParleyClientError("closed", "parley: the client is closed");
    const known = this.#conversations.get(id);
    if (known) return known;
    const o = this.#options;
    const conversation: Conversation = new Conversation({
      id,
      api: this.api,
      tokens: this.#tokens,
      fetch: this.#fetch,
      baseUrl: this.#baseUrl,
      instanceId: this.#instanceId,
      userId: () => this.#userId,
      transport: o.transport ?? "auto",
      WebSocket: o.WebSocket,
      webSocketAvailable: this.#webSocket(o),
      sendOver: o.sendOver ?? "http",
      timings: this.#timings,
      reconnectDelay: backoff(o.reconnectDelay, 500, 15_000),
      retryDelay: backoff(o.retryDelay, 300, 15_000),
      fallbackAfter: o.fallbackAfter ?? 2,
      upgradeAfterMs: o.upgradeAfterMs ?? 60_000,
      typingThrottleMs: o.typingThrottleMs ?? 2_000,
      ackTimeoutMs: o.ackTimeoutMs ?? 10_000,
      outbox: this.#outbox,
      scope: () => this.#scope(),
      wake: this.#wake,
      after: options.after,
      onClosed: () => {
        if (this.#conversations.get(id) === conversation) this.#conversations.delete(id);
      },
    });
    this.#conversations.set(id, conversation);
    void this.#scope().catch(() => undefined); // learn the user id early
    return conversation;
  }

  /**
   * The live thread list of this user (one per client): pushed over the inbox socket, or polled
   * over HTTP where there is no WebSocket (or it keeps failing).
   */
  inbox(): Inbox {
    if (this.#closed) throw new ParleyClientError("closed", "parley: the client is closed");
    if (this.#inbox) return this.#inbox;
    const inbox: Inbox = new Inbox({
      api: this.api,
      tokens: this.#tokens,
      baseUrl: this.#baseUrl,
      instanceId: this.#instanceId,
      userId: this.#options.userId,
      WebSocket: this.#options.WebSocket,
      webSocket:
        this.#webSocket(this.#options) &&
        (this.#options.transport ?? "auto") !== "sse" &&
        this.#options.transport !== "longpoll",
      fallbackAfter:
        this.#options.transport === "websocket"
          ? Number.POSITIVE_INFINITY
          : (this.#options.fallbackAfter ?? 2),
      pollMs: this.#options.inboxPollMs ?? 10_000,
      timings: this.#timings,
      reconnectDelay: backoff(this.#options.reconnectDelay, 500, 15_000),
      wake: this.#wake,
      onClosed: () => {
        if (this.#inbox === inbox) this.#inbox = undefined;
      },
    });
    this.#inbox = inbox;
    return inbox;
  }

  /** The whole thread list over HTTP (all pages, newest activity first). */
  async threads(): Promise<ThreadItem[]> {
    const all: ThreadItem[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const res = await this.api.threads(cursor === undefined ? { limit: 200 } : { cursor, limit: 200 });
      all.push(...res.conversations);
      if (!res.nextCursor) break;
      cursor = res.nextCursor;
    }
    return all;
  }

  /** Closes every conversation and the inbox. */
  close(): void {
    this.#closed = true;
    for (const c of [...this.#conversations.values()]) c.close();
    this.#inbox?.close();
  }

  /** The outbox scope: relay URL and user. */
  async #scope(): Promise<string> {
    if (this.#userId === undefined) {
      this.#userId = subjectOf(await this.#tokens.get());
    }
    return `${this.#baseUrl}|${this.#userId ?? "unknown"}`;
  }

  #webSocket(o: ParleyClientOptions): boolean {
    return (
      o.WebSocket !== undefined || typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function"
    );
  }
}

function backoff(o: Partial<BackoffOptions> | undefined, minMs: number, maxMs: number): BackoffOptions {
  return { minMs: o?.minMs ?? minMs, maxMs: o?.maxMs ?? maxMs };
}

/**
 * Creates a client for one user.
 *
 * ```ts
 * const client = createParleyClient({ url: "https://chat.example.com", token: getToken });
 * const chat = client.conversation("support-42", { after: 0 });
 * chat.on("message", (m) => render(m));
 * await chat.send("Hello");
 * ```
 */
export function createParleyClient(options: ParleyClientOptions): ParleyClient {
  return new ParleyClient(options);
}
