/** Shared pieces of the SDK tests: clients with fast timings, event recorders, the exactly-once check. */
import { afterAll, beforeAll, expect } from "vitest";
import WebSocket from "ws";
import {
  type Change,
  type ChangeRequest,
  type Conversation,
  createParleyClient,
  type Message,
  type ParleyClient,
  type ParleyClientOptions,
  type StateChange,
} from "../../client/index.ts";
import type { Api } from "../helpers/clients.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";
import type { World } from "../helpers/world.ts";
import { history } from "../helpers/world.ts";

/** Timings that make faults show up in well under a second. */
export const FAST: Partial<ParleyClientOptions> = {
  heartbeatMs: 300,
  pongTimeoutMs: 400,
  connectTimeoutMs: 1500,
  requestTimeoutMs: 3000,
  ackTimeoutMs: 3000,
  longPollWaitSeconds: 2,
  signalPollMs: 300,
  sseIdleTimeoutMs: 20_000,
  reconnectDelay: { minMs: 50, maxMs: 400 },
  retryDelay: { minMs: 50, maxMs: 400 },
  upgradeAfterMs: 500,
  typingThrottleMs: 100,
  window: null,
  document: null,
};

/** A TCP proxy in front of the test relay for the whole file (`.proxy`, set before the tests run). */
export function useTcpProxy(w: World): { proxy: TcpProxy } {
  const holder = {} as { proxy: TcpProxy };
  beforeAll(async () => {
    holder.proxy = await startTcpProxy(() => w.server.port);
  });
  afterAll(async () => {
    await holder.proxy?.close();
  });
  return holder;
}

/** Remembers every client made in a test file and closes them afterwards. */
export function useClients(w: World) {
  const clients: ParleyClient[] = [];
  afterAll(() => {
    for (const c of clients) c.close();
  });
  return {
    /** A client for `user` (token function minted against the test server's secret). */
    make(user: string, opts: Partial<ParleyClientOptions> = {}): ParleyClient {
      const client = createParleyClient({
        url: w.server.url,
        token: () => w.token(user),
        WebSocket,
        ...FAST,
        ...opts,
      });
      clients.push(client);
      return client;
    },
  };
}

/** Everything one conversation emitted. */
export class Recorder {
  readonly messages: Message[] = [];
  readonly states: StateChange[] = [];
  readonly synced: number[] = [];
  readonly errors: Error[] = [];
  readonly typing: Array<{ userId: string; typing: boolean }> = [];
  readonly reads: Array<{ userId: string; seq: number }> = [];
  readonly presence: string[][] = [];
  readonly transports: string[] = [];
  /** Every log entry emitted (`message` and `change`), as `seq:kind`, in emission order. */
  readonly entries: string[] = [];
  /** `change` events: the change and its message as emitted. */
  readonly changes: Array<{ change: Change; message: Message }> = [];
  /** `updated` events: the message as emitted and why. */
  readonly updates: Array<{ message: Message; cause: string }> = [];
  readonly changeFailures: Array<{ change: ChangeRequest; error: Error & { code: string } }> = [];
  #listeners = new Set<() => void>();

  constructor(readonly conversation: Conversation) {
    const poke = () => {
      for (const l of [...this.#listeners]) l();
    };
    conversation.on("message", (m) => {
      this.messages.push(m);
      this.entries.push(`${m.seq}:message`);
      poke();
    });
    conversation.on("state", (s) => {
      this.states.push(s);
      poke();
    });
    conversation.on("synced", (s) => {
      this.synced.push(s.lastSeq);
      poke();
    });
    conversation.on("error", (e) => {
      this.errors.push(e);
      poke();
    });
    conversation.on("typing", (t) => {
      this.typing.push({ userId: t.userId, typing: t.typing });
      poke();
    });
    conversation.on("read", (r) => {
      this.reads.push(r);
      poke();
    });
    conversation.on("presence", (p) => {
      this.presence.push(p.online);
      poke();
    });
    conversation.on("transport", (t) => {
      this.transports.push(t.kind);
      poke();
    });
    conversation.on("change", (c) => {
      this.changes.push(c);
      this.entries.push(`${c.change.seq}:${c.change.kind}`);
      poke();
    });
    conversation.on("updated", (u) => {
      this.updates.push(u);
      poke();
    });
    conversation.on("changeFailed", (f) => {
      this.changeFailures.push(f);
      poke();
    });
  }

  seqs(): number[] {
    return this.messages.map((m) => m.seq);
  }

  bodies(): string[] {
    return this.messages.map((m) => m.body);
  }

  /** Waits until `check` holds, re-checked on every event and every 50 ms (bounded). */
  until<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = "condition"): Promise<T> {
    const first = check();
    if (first !== undefined && first !== false) return Promise.resolve(first);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        clearInterval(tick);
        this.#listeners.delete(listener);
      };
      const listener = () => {
        const v = check();
        if (v !== undefined && v !== false) {
          done();
          resolve(v);
        }
      };
      const tick = setInterval(listener, 50);
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `${what}: not within ${timeoutMs} ms; state ${this.conversation.state}, seqs ${JSON.stringify(this.seqs().slice(-10))}, states ${JSON.stringify(this.states.slice(-6).map((s) => `${s.newState}:${s.reason}`))}`,
          ),
        );
      }, timeoutMs);
      this.#listeners.add(listener);
    });
  }

  /** Waits until at least `n` messages have been emitted. */
  messagesAtLeast(n: number, timeoutMs = 10_000): Promise<Message[]> {
    return this.until(() => this.messages.length >= n && this.messages, timeoutMs, `${n} messages`);
  }
}

/** Open a conversation on `client` and record it: from seq 0 (default) or from its current end. */
export function record(client: ParleyClient, id: string, from: number | "end" = 0): Recorder {
  return new Recorder(client.conversation(id, from === "end" ? {} : { after: from }));
}

/**
 * The fault scenarios' verdict: every body sent is stored exactly once (history over HTTP),
 * seqs are 1..n, and every recorder received every message once, in order.
 */
export async function expectExactlyOnce(reader: Api, conv: string, sent: string[], recorders: Recorder[]) {
  const stored = await history(reader, conv);
  const bodies = stored.map((m) => m.body);
  expect(new Set(bodies).size, "no body stored twice").toBe(bodies.length);
  expect([...bodies].sort()).toEqual([...sent].sort());
  expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
  for (const r of recorders) {
    await r.messagesAtLeast(stored.length, 15_000);
    expect(r.seqs(), "received once, in order").toEqual(stored.map((m) => m.seq));
    expect(r.messages.map((m) => m.id)).toEqual(stored.map((m) => m.id));
  }
  return stored;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
