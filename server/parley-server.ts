/**
 * `ParleyServer`: the relay's server-key routes as typed methods, for an app's back end. Each
 * method answers the route's data or throws a `ParleyApiError` with the relay's status, code
 * and message. Only requests that are safe to repeat are retried (reads, idempotent writes,
 * sends with a `clientMessageId`), after a dropped connection, a 503 or a 429, waiting what
 * `Retry-After` says.
 */
import { errorOf, ParleyApiError } from "./api-error.ts";
import type {
  ConversationView,
  CreatedConversation,
  LogPage,
  Message,
  MessageEdit,
  MintToken,
  NewConversation,
  NewWebhook,
  NewWebhookEndpoint,
  Profile,
  ProfileUpdate,
  SentMessage,
  ServerSend,
  WebhookEndpoint,
} from "./types.ts";

export interface ParleyServerOptions {
  /** The relay's base URL, e.g. `https://chat.example.com`. */
  baseUrl: string;
  /** The app's server key (`PARLEY_SERVER_KEY` for the default app). It also names the app. */
  serverKey: string;
  /** A `fetch` to use instead of the global one (tests, proxies, instrumentation). */
  fetch?: typeof fetch;
  /** How long one attempt may take, ms (default 30 000). */
  timeoutMs?: number;
  /** Retries of a safe request after a dropped connection, a timeout, a 503 or a 429 (default 2). */
  retries?: number;
  /** The longest wait between two attempts, ms, whatever `Retry-After` asks (default 10 000). */
  maxRetryDelayMs?: number;
}

interface Call {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  body?: unknown;
  /** Whether repeating the request cannot do anything twice. */
  safe: boolean;
}

const seg = encodeURIComponent;

/** A fresh `clientMessageId` (1–64 of `[A-Za-z0-9_-]`). */
const newClientMessageId = () => `srv_${crypto.randomUUID()}`;

export class ParleyServer {
  readonly #base: string;
  readonly #key: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #maxDelayMs: number;

  constructor(options: ParleyServerOptions) {
    if (!options.baseUrl) throw new TypeError("baseUrl is required");
    if (!options.serverKey) throw new TypeError("serverKey is required");
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#key = options.serverKey;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retries = Math.max(0, options.retries ?? 2);
    this.#maxDelayMs = options.maxRetryDelayMs ?? 10_000;
  }

  /** `POST /v1/conversations`. An existing `id` is a 409 `conflict`. Not retried. */
  async createConversation(input: NewConversation): Promise<CreatedConversation> {
    const res = await this.#call({ method: "POST", path: "/v1/conversations", body: input, safe: false });
    return ((await res.json()) as { conversation: CreatedConversation }).conversation;
  }

  /** `GET /v1/conversations/:id`: the conversation and its members' read positions. */
  async getConversation(conversationId: string): Promise<ConversationView> {
    const res = await this.#call({
      method: "GET",
      path: `/v1/conversations/${seg(conversationId)}`,
      safe: true,
    });
    return ((await res.json()) as { conversation: ConversationView }).conversation;
  }

  /** `PUT …/members/:userId`: add a member (idempotent). */
  async addMember(conversationId: string, userId: string): Promise<void> {
    await this.#call({ method: "PUT", path: membersPath(conversationId, userId), safe: true });
  }

  /** `DELETE …/members/:userId`: remove a member; their open sockets close with 4003. */
  async removeMember(conversationId: string, userId: string): Promise<void> {
    await this.#call({ method: "DELETE", path: membersPath(conversationId, userId), safe: true });
  }

  /**
   * `POST …/messages` as the member `senderId` (a bot or "system" user must be a member).
   * Answered once the message is durable. Retried with the same `clientMessageId`, so it is
   * stored once; `created` is false when the relay had it already.
   */
  async sendMessage(conversationId: string, input: ServerSend): Promise<SentMessage> {
    const body = { ...input, clientMessageId: input.clientMessageId ?? newClientMessageId() };
    const res = await this.#call({
      method: "POST",
      path: `/v1/conversations/${seg(conversationId)}/messages`,
      body,
      safe: true,
    });
    const { message } = (await res.json()) as { message: Message };
    return { message, created: res.status === 201 };
  }

  /** `PATCH …/messages/:seq` (moderation): the message once the edit is durable. */
  async editMessage(conversationId: string, seq: number, edit: MessageEdit): Promise<Message> {
    // A change that changes nothing appends nothing, so repeating an edit is safe.
    const res = await this.#call({
      method: "PATCH",
      path: messagePath(conversationId, seq),
      body: edit,
      safe: true,
    });
    return ((await res.json()) as { message: Message }).message;
  }

  /** `DELETE …/messages/:seq` (moderation): the tombstone; the text is scrubbed from the store. */
  async deleteMessage(conversationId: string, seq: number): Promise<Message> {
    const res = await this.#call({ method: "DELETE", path: messagePath(conversationId, seq), safe: true });
    return ((await res.json()) as { message: Message }).message;
  }

  /**
   * `GET …/log`: messages and changes above `after` (default 0), at most `limit` (default 100,
   * clamped to 1–500); `hasMore` says to ask again from the last entry's seq. The server key's
   * way to read a conversation (history is a member's route).
   */
  async log(conversationId: string, query: { after?: number; limit?: number } = {}): Promise<LogPage> {
    const params = new URLSearchParams();
    if (query.after !== undefined) params.set("after", String(query.after));
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    const qs = params.size > 0 ? `?${params}` : "";
    const res = await this.#call({
      method: "GET",
      path: `/v1/conversations/${seg(conversationId)}/log${qs}`,
      safe: true,
    });
    return (await res.json()) as LogPage;
  }

  /** `POST /v1/tokens`: the relay signs a user token of this key's app (default TTL 1 h). */
  async mintToken(input: MintToken): Promise<string> {
    const res = await this.#call({ method: "POST", path: "/v1/tokens", body: input, safe: true });
    return ((await res.json()) as { token: string }).token;
  }

  /** `PUT /v1/users/:userId/profile`: set a user's name and picture (left out: kept; `null`: cleared). */
  async setProfile(userId: string, update: ProfileUpdate): Promise<Profile> {
    const res = await this.#call({
      method: "PUT",
      path: `/v1/users/${seg(userId)}/profile`,
      body: update,
      safe: true,
    });
    return ((await res.json()) as { profile: Profile }).profile;
  }

  /** `GET /v1/users/:userId/profile`: a user's profile (`null` fields when none is set). */
  async getProfile(userId: string): Promise<Profile> {
    const res = await this.#call({ method: "GET", path: `/v1/users/${seg(userId)}/profile`, safe: true });
    return ((await res.json()) as { profile: Profile }).profile;
  }

  /** `POST /v1/webhooks`: register an endpoint; keep its `secret` (shown this once). Not retried. */
  async createWebhook(input: NewWebhook): Promise<NewWebhookEndpoint> {
    const res = await this.#call({ method: "POST", path: "/v1/webhooks", body: input, safe: false });
    return ((await res.json()) as { webhook: NewWebhookEndpoint }).webhook;
  }

  /** `GET /v1/webhooks`: the app's endpoints, without secrets. */
  async listWebhooks(): Promise<WebhookEndpoint[]> {
    const res = await this.#call({ method: "GET", path: "/v1/webhooks", safe: true });
    return ((await res.json()) as { webhooks: WebhookEndpoint[] }).webhooks;
  }

  /** `DELETE /v1/webhooks/:id`. Not retried: a second try would be a 404. */
  async deleteWebhook(id: string): Promise<void> {
    await this.#call({ method: "DELETE", path: `/v1/webhooks/${seg(id)}`, safe: false });
  }

  /** `POST /v1/webhooks/:id/resume`: continue a paused (`failing`) endpoint from where it stopped. */
  async resumeWebhook(id: string): Promise<WebhookEndpoint> {
    const res = await this.#call({ method: "POST", path: `/v1/webhooks/${seg(id)}/resume`, safe: true });
    return ((await res.json()) as { webhook: WebhookEndpoint }).webhook;
  }

  /** `GET /healthz`: resolves when the relay serves (its store is open), throws otherwise. */
  async health(): Promise<void> {
    await this.#call({ method: "GET", path: "/healthz", safe: true });
  }

  /** One request, retried while it is safe and the failure is passing; 2xx or a throw. */
  async #call(call: Call): Promise<Response> {
    const attempts = call.safe ? this.#retries + 1 : 1;
    let failure: ParleyApiError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (failure) await sleep(this.#delay(attempt, failure.retryAfter));
      let res: Response;
      try {
        res = await this.#fetch(`${this.#base}${call.path}`, {
          method: call.method,
          headers: {
            authorization: `Bearer ${this.#key}`,
            ...(call.body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
      } catch (error) {
        const timedOut = error instanceof Error && error.name === "TimeoutError";
        failure = new ParleyApiError(
          0,
          timedOut ? "timeout" : "network",
          `${call.method} ${call.path}: ${timedOut ? `no answer within ${this.#timeoutMs} ms` : String(error)}`,
        );
        continue;
      }
      if (res.ok) return res;
      failure = await errorOf(res);
      if (res.status !== 503 && res.status !== 429) break;
    }
    throw failure ?? new ParleyApiError(0, "network", `${call.method} ${call.path}: no attempt made`);
  }

  /** Before attempt `n` (≥ 1): `Retry-After` if given, else 250 ms doubling; capped. */
  #delay(attempt: number, retryAfter: number | undefined): number {
    const wanted = retryAfter !== undefined ? retryAfter * 1000 : 250 * 2 ** (attempt - 1);
    return Math.min(wanted, this.#maxDelayMs);
  }
}

const membersPath = (conversationId: string, userId: string) =>
  `/v1/conversations/${seg(conversationId)}/members/${seg(userId)}`;
const messagePath = (conversationId: string, seq: number) =>
  `/v1/conversations/${seg(conversationId)}/messages/${seq}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
