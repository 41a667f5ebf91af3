/** Shared fixture: one real server per test file, plus shortcuts for users, conversations and sockets. */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect } from "vitest";
import { type Api, type ApiResponse, api, type Frame, type Message, mintToken, WsClient } from "./clients.ts";
import { type ServerHandle, type StartOptions, startServer } from "./server.ts";

export interface World {
  server: ServerHandle;
  /** API client with the server key. */
  admin: Api;
  /** A valid token for `user` (cached). */
  token(user: string): Promise<string>;
  /** API client acting as `user`. */
  as(user: string): Promise<Api>;
  /** Create a conversation (server key) and return its id. */
  conversation(members: string[], opts?: { id?: string; title?: string }): Promise<string>;
  /** Open a conversation socket as `user` (not awaited). */
  socket(user: string, conv: string, query?: Record<string, string | number | undefined>): Promise<WsClient>;
  /** Open a conversation socket as `user` and wait for its `synced` frame. */
  synced(user: string, conv: string, query?: Record<string, string | number | undefined>): Promise<WsClient>;
  /** Open the inbox socket of `owner` with the token of `user` (default: owner). */
  inbox(owner: string, user?: string): Promise<WsClient>;
  /** Remember a socket for cleanup. */
  track(c: WsClient): WsClient;
}

let counter = 0;
/** A fresh id (valid as conversation id, user id and clientMessageId). */
export function uid(prefix = "x"): string {
  counter++;
  return `${prefix}-${counter}-${randomBytes(3).toString("hex")}`;
}

/**
 * Start one server for this test file (beforeAll) and stop it (afterAll). In the contract suite
 * its HTTP goes through the validating proxy (see `StartOptions.checkAnswers`).
 */
export function useServer(opts: StartOptions = {}): World {
  const tokens = new Map<string, string>();
  const sockets: WsClient[] = [];
  const world = {} as World;
  beforeAll(async () => {
    world.server = await startServer(opts);
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close().catch(() => undefined)));
    await world.server?.dispose();
  });
  Object.defineProperty(world, "admin", { get: () => api(() => world.server.url, world.server.serverKey) });
  world.token = async (user) => {
    let t = tokens.get(user);
    if (!t) {
      t = await mintToken(world.server.secret, user);
      tokens.set(user, t);
    }
    return t;
  };
  world.as = async (user) => api(() => world.server.url, await world.token(user));
  world.conversation = async (members, o = {}) => {
    const id = o.id ?? uid("c");
    const res = await world.admin.post("/v1/conversations", { id, title: o.title ?? id, members });
    expect(res.status, res.text).toBe(201);
    return id;
  };
  world.track = (c) => {
    sockets.push(c);
    return c;
  };
  world.socket = async (user, conv, query = {}) =>
    world.track(
      WsClient.connect(world.server.wsUrl, `/parties/conversation/${conv}`, {
        token: await world.token(user),
        ...query,
      }),
    );
  world.synced = async (user, conv, query = {}) => {
    const c = await world.socket(user, conv, query);
    await c.waitFor((f) => f.type === "synced", 5000, `synced for ${user} in ${conv}`);
    return c;
  };
  world.inbox = async (owner, user = owner) => {
    const c = world.track(
      WsClient.connect(world.server.wsUrl, `/parties/inbox/${owner}`, { token: await world.token(user) }),
    );
    return c;
  };
  return world;
}

/** Assert an error response: the status and the contract's `{ error: { code, message } }` shape. */
export function expectError(res: ApiResponse, status: number, code?: string): void {
  expect(res.status, `expected ${status}, got ${res.status}: ${res.text.slice(0, 300)}`).toBe(status);
  expect(res.json, `error body for ${status}: ${res.text.slice(0, 300)}`).toMatchObject({
    error: { code: expect.stringMatching(/^[a-z][a-z0-9_]*$/), message: expect.any(String) },
  });
  if (code !== undefined) expect(res.json.error.code).toBe(code);
}

/** Send a message over HTTP and assert 201 (or the given status); returns the message. */
export async function send(
  a: Api,
  conv: string,
  clientMessageId: string,
  body = `msg ${clientMessageId}`,
  status = 201,
): Promise<Message> {
  const res = await a.post(`/v1/conversations/${conv}/messages`, { clientMessageId, body });
  expect(res.status, `send ${clientMessageId}: ${res.text.slice(0, 300)}`).toBe(status);
  return res.json.message;
}

/** Read the whole history of a conversation with `after` paging (bounded). */
export async function history(a: Api, conv: string): Promise<Message[]> {
  const all: Message[] = [];
  let after = 0;
  for (let page = 0; page < 1000; page++) {
    const res = await a.get(`/v1/conversations/${conv}/messages?after=${after}&limit=200`);
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    const msgs = res.json.messages as Message[];
    all.push(...msgs);
    if (!res.json.hasMore || msgs.length === 0) return all;
    after = (msgs.at(-1) as Message).seq;
  }
  throw new Error("history: too many pages");
}

/** Message frames' seqs must be exactly from..to, in order. */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value (bounded by count and time). */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 5000,
  stepMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined | false;
  for (let i = 0; i < 10_000; i++) {
    last = await fn();
    if (last) return last;
    if (Date.now() >= deadline) break;
    await sleep(stepMs);
  }
  throw new Error(`condition not met within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

export type { Frame };

/** An ISO-8601 date-time with a zone (what `createdAt` and `expiresAt` must be). */
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
