/** Real clients for black-box tests: JWT minting, a fetch wrapper and a WebSocket collector. */
import { SignJWT } from "jose";
import WebSocket from "ws";
import { recordAuthHeader, recordSecret, recordSecretsInAnswer, recordTokenIn } from "./secrets.ts";

// ---------------------------------------------------------------- tokens

export interface TokenOptions {
  name?: string;
  /** The `picture` claim (a profile picture URL). */
  picture?: string;
  app?: string;
  /** Seconds from now (negative = already expired). Default 3600. */
  expiresIn?: number;
  /** Leave out `exp` altogether. */
  noExp?: boolean;
}

/** An HS256 user token signed with `secret`. */
export async function mintToken(secret: string, sub: string, opts: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  if (opts.name !== undefined) claims.name = opts.name;
  if (opts.picture !== undefined) claims.picture = opts.picture;
  if (opts.app !== undefined) claims.app = opts.app;
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt(now);
  if (!opts.noExp) jwt = jwt.setExpirationTime(now + (opts.expiresIn ?? 3600));
  recordSecret(secret);
  const token = await jwt.sign(new TextEncoder().encode(secret));
  recordSecret(token);
  return token;
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** An unsigned `alg: none` token for `sub` (must be refused). */
export function unsignedToken(sub: string): string {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const token = `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub, exp })}.`;
  recordSecret(token);
  return token;
}

// ---------------------------------------------------------------- HTTP

/**
 * Parsed JSON from the server under test. Deliberately untyped: it is what is being checked,
 * and every use of it sits in an assertion.
 */
// biome-ignore lint/suspicious/noExplicitAny: untrusted JSON from the server under test, checked by assertions
export type Json = any;

/** A message as the contract defines it (the relay's own type of it). */
export type { Message } from "../../party/core/types.ts";

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or `null` when the body is empty or not JSON. */
  json: Json;
  text: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Send this string as is instead of JSON-encoding `body`. */
  raw?: string;
  timeoutMs?: number;
}

export interface Api {
  get(path: string, opts?: RequestOptions): Promise<ApiResponse>;
  post(path: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse>;
  put(path: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse>;
  del(path: string, opts?: RequestOptions): Promise<ApiResponse>;
  request(method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse>;
}

/**
 * A small fetch wrapper. `url` may be a function so that it follows a restarted server;
 * `auth` is a bearer credential (token or server key), or null for none.
 */
export function api(url: string | (() => string), auth: string | null): Api {
  const base = typeof url === "function" ? url : () => url;
  const request = async (method: string, path: string, body?: unknown, opts: RequestOptions = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (auth !== null) headers.authorization = `Bearer ${auth}`;
    recordSecret(auth);
    recordTokenIn(path);
    let payload: string | undefined;
    if (opts.raw !== undefined) payload = opts.raw;
    else if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
      headers["content-type"] = "application/json";
    }
    const res = await fetch(`${base()}${path}`, {
      method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    const text = await res.text();
    let json: Json = null;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    recordSecretsInAnswer(json);
    return { status: res.status, headers: res.headers, json, text };
  };
  return {
    request,
    get: (p, o) => request("GET", p, undefined, o),
    post: (p, b, o) => request("POST", p, b, o),
    put: (p, b, o) => request("PUT", p, b, o),
    del: (p, o) => request("DELETE", p, undefined, o),
  };
}

// ---------------------------------------------------------------- WebSocket

export type Frame = { type: string; [k: string]: Json };

export interface CloseInfo {
  code: number;
  reason: string;
}

/** A `ws` client that records every frame it receives. */
export class WsClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  /** Non-JSON text frames (should never happen). */
  readonly junk: string[] = [];
  /** Resolves when the socket opens; rejects if it closes first (e.g. HTTP refusal of the upgrade). */
  readonly opened: Promise<void>;
  /** Resolves with the close code and reason (1006 when the connection just dropped). */
  readonly closed: Promise<CloseInfo>;
  /** Status of a refused upgrade (the server answered HTTP instead of switching protocols). */
  unexpectedStatus: number | null = null;
  private listeners = new Set<() => void>();
  private closedInfo: CloseInfo | null = null;

  constructor(url: string, headers?: Record<string, string>) {
    recordTokenIn(url);
    recordAuthHeader(headers);
    this.ws = new WebSocket(url, { headers, maxPayload: 256 * 1024 * 1024 });
    this.ws.on("unexpected-response", (_req, res) => {
      this.unexpectedStatus = res.statusCode ?? null;
      res.resume();
      this.ws.terminate();
    });
    this.ws.on("error", () => {
      // surfaced through `closed`
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("close", (code) =>
        reject(new Error(`socket closed before open (code ${code}, HTTP ${this.unexpectedStatus})`)),
      );
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => {
        this.closedInfo = { code, reason: reason.toString() };
        resolve(this.closedInfo);
        this.notify();
      });
    });
    this.ws.on("message", (data, isBinary) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString();
      try {
        this.frames.push(JSON.parse(text) as Frame);
      } catch {
        this.junk.push(text);
      }
      this.notify();
    });
  }

  /** Open a conversation or inbox socket: `path` like `/parties/conversation/c1`. */
  static connect(
    wsUrl: string,
    path: string,
    query: Record<string, string | number | undefined> = {},
    headers?: Record<string, string>,
  ): WsClient {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const s = qs.toString();
    return new WsClient(`${wsUrl}${path}${s ? `?${s}` : ""}`, headers);
  }

  private notify() {
    for (const l of [...this.listeners]) l();
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Wait for a frame matching `pred` (already received ones count). */
  waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000, what = "frame"): Promise<Frame> {
    return this.until(() => this.frames.find(pred), timeoutMs, what);
  }

  /** Wait until `check` returns something other than undefined/false, re-checked on every frame. */
  until<T>(check: () => T | undefined | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    const first = check();
    if (first !== undefined && first !== false) return Promise.resolve(first);
    if (this.closedInfo) {
      const c = this.closedInfo;
      return Promise.reject(new Error(`${what}: socket already closed (${c.code} ${c.reason})`));
    }
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = () => {
        const v = check();
        if (v !== undefined && v !== false) {
          done();
          resolve(v);
        } else if (this.ws.readyState === WebSocket.CLOSED && this.closedInfo) {
          done();
          reject(
            new Error(
              `${what}: socket closed (${this.closedInfo.code} ${this.closedInfo.reason}) while waiting`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(
          new Error(
            `${what}: not seen within ${timeoutMs} ms; last frames: ${JSON.stringify(this.frames.slice(-5)).slice(0, 800)}`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  /** Wait until `n` message frames have arrived. */
  waitForMessages(n: number, timeoutMs = 5000): Promise<number[]> {
    return this.until(
      () => (this.messages().length >= n ? this.messages() : undefined),
      timeoutMs,
      `${n} messages`,
    );
  }

  /** The seqs of the message frames, in arrival order. */
  messages(): number[] {
    return this.frames.filter((f) => f.type === "message").map((f) => f.message.seq as number);
  }

  /** Frames of one type. */
  ofType(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Who this socket was told is online, after each presence frame (see `presenceViews`). */
  presenceViews(): string[][] {
    return presenceViews(this.frames);
  }

  /** Who this socket was last told is online (undefined before its first full list). */
  online(): string[] | undefined {
    return this.presenceViews().at(-1);
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Close (normal closure) and wait for the close to finish (bounded). */
  async close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    } else if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.close(1000);
    }
    const t = setTimeout(() => this.ws.terminate(), 2000);
    try {
      return await this.closed;
    } finally {
      clearTimeout(t);
    }
  }
}

/**
 * The online set a client holds after each presence frame among `frames`: a full list
 * (`online`) replaces it, a delta (`joined`, `left`) is folded into it. Sorted. A delta before
 * any full list is an error (the relay must send the list first).
 */
export function presenceViews(frames: readonly Frame[]): string[][] {
  const views: string[][] = [];
  let current: Set<string> | undefined;
  for (const f of frames) {
    if (f.type !== "presence") continue;
    if (Array.isArray(f.online)) current = new Set(f.online as string[]);
    else if (!current) throw new Error(`a presence delta before the full list: ${JSON.stringify(f)}`);
    else {
      for (const u of f.left as string[]) current.delete(u);
      for (const u of f.joined as string[]) current.add(u);
    }
    views.push([...current].sort());
  }
  return views;
}

// ---------------------------------------------------------------- Server-Sent Events

export interface SseEvent {
  id?: string;
  event?: string;
  /** `data:` parsed as JSON (a server frame). */
  data: Frame;
}

/** A streaming SSE reader over fetch that records every event. */
export class SseClient {
  readonly events: SseEvent[] = [];
  status = 0;
  contentType = "";
  /** Body text when the response was not a stream (an error). */
  errorBody = "";
  /** Resolves once the response headers arrived. */
  readonly ready: Promise<void>;
  /** Resolves when the stream ended (server closed it, or `close()`). */
  readonly ended: Promise<void>;
  private abort = new AbortController();
  private listeners = new Set<() => void>();

  constructor(
    url: string,
    headers: Record<string, string> = {},
    /** Called with each event as it arrives (a reader that times its deliveries). */
    private readonly onEvent?: (event: SseEvent) => void,
  ) {
    recordTokenIn(url);
    recordAuthHeader(headers);
    let markReady: () => void = () => undefined;
    this.ready = new Promise((r) => {
      markReady = r;
    });
    this.ended = this.run(url, headers, () => markReady()).finally(() => {
      markReady();
      this.notify();
    });
    this.ended.catch(() => undefined);
  }

  private async run(url: string, headers: Record<string, string>, markReady: () => void): Promise<void> {
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { accept: "text/event-stream", ...headers },
        signal: this.abort.signal,
      });
    } catch {
      return;
    }
    this.status = res.status;
    this.contentType = res.headers.get("content-type") ?? "";
    if (res.status !== 200 || !res.body) {
      this.errorBody = await res.text().catch(() => "");
      markReady();
      return;
    }
    markReady();
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
        for (let i = buf.indexOf("\n\n"); i !== -1; i = buf.indexOf("\n\n")) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          this.parse(block);
        }
      }
    } catch {
      // aborted
    }
  }

  private parse(block: string) {
    let id: string | undefined;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const c = line.indexOf(":");
      const field = c === -1 ? line : line.slice(0, c);
      const value = c === -1 ? "" : line.slice(c + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0) return;
    let parsed: Frame;
    try {
      parsed = JSON.parse(data.join("\n")) as Frame;
    } catch {
      parsed = { type: "__unparsable__", raw: data.join("\n") };
    }
    const ev: SseEvent = { data: parsed };
    if (id !== undefined) ev.id = id;
    if (event !== undefined) ev.event = event;
    this.events.push(ev);
    this.onEvent?.(ev);
    this.notify();
  }

  private notify() {
    for (const l of [...this.listeners]) l();
  }

  /** Seqs of message events in arrival order. */
  messages(): number[] {
    return this.events.filter((e) => e.data.type === "message").map((e) => e.data.message.seq as number);
  }

  waitFor(pred: (e: SseEvent) => boolean, timeoutMs = 5000, what = "event"): Promise<SseEvent> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const listener = () => {
        const f = this.events.find(pred);
        if (f) {
          clearTimeout(timer);
          this.listeners.delete(listener);
          resolve(f);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(
          new Error(
            `${what}: not seen within ${timeoutMs} ms (status ${this.status} ${this.errorBody.slice(0, 200)}); last: ${JSON.stringify(this.events.slice(-3)).slice(0, 600)}`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  close(): Promise<void> {
    this.abort.abort();
    return this.ended;
  }
}
