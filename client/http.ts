/** The relay's HTTP API as the SDK uses it: auth, timeouts, the contract's errors, token refresh. */
import { ParleyClientError } from "./errors.ts";
import { isMessage } from "./frames.ts";
import type { ChangeRequest } from "./outbox/storage.ts";
import type { TokenSource } from "./token.ts";
import type {
  ConversationInfo,
  HistoryPage,
  LogPage,
  Message,
  SendFields,
  ThreadPage,
  Users,
} from "./types.ts";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Aborts the request (in addition to the timeout). */
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * False: a 401 is not answered here by renewing the token and trying again. The transports
   * pass it: their 401 ends the connection as a 4001 would, and the session renews the token
   * once per attempt (as often as it documents, not twice as often).
   */
  renew?: boolean;
}

/** What the API's methods take besides their own arguments. */
export type CallOptions = Pick<RequestOptions, "signal" | "timeoutMs" | "renew">;

/** `Retry-After` in ms (seconds or an HTTP date), or undefined. */
export function retryAfterMs(res: Response): number | undefined {
  const raw = res.headers.get("retry-after");
  if (raw === null || raw.trim() === "") return undefined;
  const secs = Number(raw);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** The contract's `{ error: { code, message } }` as a ParleyClientError. */
export async function errorFromResponse(res: Response): Promise<ParleyClientError> {
  let code = `http_${res.status}`;
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string") code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message;
  } catch {
    // not JSON: keep the status
  }
  const extra: { status: number; retryAfterMs?: number } = { status: res.status };
  const wait = retryAfterMs(res);
  if (wait !== undefined) extra.retryAfterMs = wait;
  return new ParleyClientError(code, message, extra);
}

/**
 * An AbortSignal that fires on `timeoutMs` or when `outer` fires; `clear()` stops the timer.
 * (Not `AbortSignal.any`: older browsers lack it.)
 */
export function timeoutSignal(
  timeoutMs: number,
  outer?: AbortSignal,
): { signal: AbortSignal; clear: () => void; timedOut: () => boolean } {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort(new ParleyClientError("timeout", `no answer within ${timeoutMs} ms`));
  }, timeoutMs);
  const onOuter = () => ctl.abort(outer?.reason);
  if (outer?.aborted) ctl.abort(outer.reason);
  else outer?.addEventListener("abort", onOuter, { once: true });
  return {
    signal: ctl.signal,
    clear: () => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
    },
    timedOut: () => timedOut,
  };
}

export class HttpApi {
  readonly #fetch: FetchLike;
  readonly #tokens: TokenSource;
  readonly #timeoutMs: number;
  readonly #onUsers: ((users: Users) => void) | undefined;

  constructor(
    /** The relay's base URL, without a trailing slash. */
    readonly baseUrl: string,
    fetchFn: FetchLike,
    tokens: TokenSource,
    defaultTimeoutMs: number,
    /** Hears the `users` map (profiles) of every answer that has one. */
    onUsers?: (users: Users) => void,
  ) {
    this.#fetch = fetchFn;
    this.#tokens = tokens;
    this.#timeoutMs = defaultTimeoutMs;
    this.#onUsers = onUsers;
  }

  /** Full URL of an API path with a query. */
  url(path: string, query: Record<string, string | number | undefined> = {}): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const s = qs.toString();
    return `${this.baseUrl}${path}${s ? `?${s}` : ""}`;
  }

  /**
   * One authenticated request. A 401 with a refreshable token refreshes it and tries once more
   * (unless `renew` is false); failures become ParleyClientError (`network`, `timeout`, or the
   * server's code).
   */
  async request(path: string, opts: RequestOptions = {}): Promise<Response> {
    const token = await this.#tokens.get();
    let res = await this.#once(path, opts, token);
    // #once has read the refused answer's body already: nothing of it is left to cancel.
    if (res.status === 401 && opts.renew !== false && this.#tokens.refreshable) {
      res = await this.#once(path, opts, await this.#tokens.refresh(token));
    }
    if (!res.ok) throw await errorFromResponse(res);
    return res;
  }

  async #once(path: string, opts: RequestOptions, token: string): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    const timeout = timeoutSignal(opts.timeoutMs ?? this.#timeoutMs, opts.signal);
    try {
      const init: RequestInit = { method: opts.method ?? "GET", headers, signal: timeout.signal };
      if (body !== undefined) init.body = body;
      const res = await this.#fetch(this.url(path, opts.query), init);
      // Read the body under the same timeout: a stalled connection can stall after the headers.
      const text = await res.text();
      return new Response(res.status === 204 || res.status === 304 ? null : text, {
        status: res.status,
        headers: res.headers,
      });
    } catch (error) {
      if (timeout.timedOut()) {
        throw new ParleyClientError("timeout", `${opts.method ?? "GET"} ${path}: no answer in time`, {
          cause: error,
        });
      }
      if (opts.signal?.aborted) throw error;
      throw new ParleyClientError("network", `${opts.method ?? "GET"} ${path}: ${String(error)}`, {
        cause: error,
      });
    } finally {
      timeout.clear();
    }
  }

  async #json<T>(res: Response): Promise<T> {
    try {
      const body = await res.json();
      if (body?.users) this.#onUsers?.(body.users);
      return body as T;
    } catch (error) {
      throw new ParleyClientError("bad_response", `the relay answered ${res.status} without JSON`, {
        cause: error,
      });
    }
  }

  /** `POST /v1/conversations/:id/messages`: resolves with the stored message (201 or 200). */
  sendMessage(conversationId: string, input: SendFields, timeoutMs?: number): Promise<Message> {
    return this.#message(`/v1/conversations/${enc(conversationId)}/messages`, "POST", input, timeoutMs);
  }

  /**
   * One change to a message: `PATCH` or `DELETE …/messages/:seq`, `PUT` or `DELETE
   * …/messages/:seq/reactions/:key`. Resolves with the message's state once the change is durable
   * (a change that changes nothing answers the same).
   */
  change(conversationId: string, change: ChangeRequest, timeoutMs?: number): Promise<Message> {
    const path = `/v1/conversations/${enc(conversationId)}/messages/${change.seq}`;
    switch (change.kind) {
      case "edit": {
        const { kind: _, seq: __, ...fields } = change;
        return this.#message(path, "PATCH", fields, timeoutMs);
      }
      case "delete":
        return this.#message(path, "DELETE", undefined, timeoutMs);
      default:
        return this.#message(
          `${path}/reactions/${enc(change.key)}`,
          change.kind === "react" ? "PUT" : "DELETE",
          undefined,
          timeoutMs,
        );
    }
  }

  async #message(path: string, method: string, body: unknown, timeoutMs?: number): Promise<Message> {
    const opts: RequestOptions = { method, body };
    if (timeoutMs !== undefined) opts.timeoutMs = timeoutMs;
    const { message } = await this.#json<{ message?: unknown }>(await this.request(path, opts));
    if (!isMessage(message)) throw new ParleyClientError("bad_response", `${method} ${path}: no message`);
    return message;
  }

  /**
   * `GET /v1/conversations/:id/log`: the log's entries (messages and changes, each message in
   * its latest state) after `after`, in seq order; with `wait`, a long-poll.
   */
  async log(
    conversationId: string,
    q: { after?: number; limit?: number; wait?: number },
    opts: CallOptions = {},
  ): Promise<LogPage> {
    const res = await this.request(`/v1/conversations/${enc(conversationId)}/log`, { query: q, ...opts });
    const page = await this.#json<LogPage>(res);
    if (!page.entries?.every((e) => isMessage(e.message)) || typeof page.lastSeq !== "number") {
      throw new ParleyClientError("bad_response", "the log answer is not a page of entries");
    }
    return page;
  }

  /** `GET /v1/conversations/:id/messages` (with `wait`: a long-poll). */
  async history(
    conversationId: string,
    q: { after?: number; before?: number; limit?: number; wait?: number },
    opts: CallOptions = {},
  ): Promise<HistoryPage> {
    const res = await this.request(`/v1/conversations/${enc(conversationId)}/messages`, {
      query: q,
      ...opts,
    });
    const page = await this.#json<HistoryPage>(res);
    if (
      !Array.isArray(page.messages) ||
      !page.messages.every(isMessage) ||
      typeof page.lastSeq !== "number"
    ) {
      throw new ParleyClientError("bad_response", "the history answer is not a page of messages");
    }
    return page;
  }

  /** `GET /v1/conversations/:id`. */
  async conversation(conversationId: string, opts: CallOptions = {}): Promise<ConversationInfo> {
    const res = await this.request(`/v1/conversations/${enc(conversationId)}`, opts);
    return (await this.#json<{ conversation: ConversationInfo }>(res)).conversation;
  }

  /** `GET /v1/conversations`: one page of the thread list. */
  async threads(
    q: { cursor?: string | undefined; limit?: number } = {},
    opts: CallOptions = {},
  ): Promise<ThreadPage> {
    const res = await this.request("/v1/conversations", { query: q, ...opts });
    return this.#json<ThreadPage>(res);
  }

  /** `POST /v1/conversations/:id/typing`. */
  async typing(conversationId: string): Promise<void> {
    await this.request(`/v1/conversations/${enc(conversationId)}/typing`, { method: "POST" });
  }

  /** `POST /v1/conversations/:id/read`. */
  async read(conversationId: string, seq: number): Promise<void> {
    await this.request(`/v1/conversations/${enc(conversationId)}/read`, { method: "POST", body: { seq } });
  }

  /** `GET /v1/conversations/:id/presence`. */
  async presence(conversationId: string, opts: CallOptions = {}): Promise<string[]> {
    const res = await this.request(`/v1/conversations/${enc(conversationId)}/presence`, opts);
    return (await this.#json<{ online: string[] }>(res)).online;
  }
}

const enc = encodeURIComponent;
