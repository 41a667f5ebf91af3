/**
 * The legitimate side of the hostile soak: a few users in a few conversations sending at a modest
 * rate over HTTP and over the socket (closed loop: the next send waits for the ack), and three
 * members reading each conversation live, one per transport (WebSocket, SSE, long-poll). Each
 * send's latency is its first attempt to its ack; each delivery's latency is that send's first
 * attempt to the frame reaching the reader. Also the ledger of every acknowledged message (the
 * hostile side's sends too), which the soak checks against the stored histories.
 */
import { randomBytes } from "node:crypto";
import {
  type Api,
  api,
  type Frame,
  type Message,
  mintToken,
  SseClient,
  WsClient,
} from "../helpers/clients.ts";
import type { ServerHandle } from "../helpers/server.ts";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One timed event: when it completed (epoch ms) and how long it took. */
export interface Sample {
  at: number;
  ms: number;
}

/** Every send started and every one acknowledged, across both sides of the soak. */
export class Ledger {
  /** First attempt of each key (`conv/sender/key`), for delivery latencies. */
  readonly started = new Map<string, number>();
  readonly acked = new Map<string, { conv: string; seq: number; body: string }>();
  /** Keys acknowledged with two different seqs. */
  conflicts = 0;
  /** Answers to sends that are neither an ack nor worth a retry (a 4xx other than 429). */
  readonly unexpected: string[] = [];

  static id(conv: string, sender: string, key: string): string {
    return `${conv}/${sender}/${key}`;
  }

  ack(conv: string, message: Message): void {
    const id = Ledger.id(conv, message.senderId, message.clientMessageId);
    const prev = this.acked.get(id);
    if (prev && prev.seq !== message.seq) this.conflicts++;
    this.acked.set(id, { conv, seq: message.seq, body: message.body });
  }
}

/** Retry pauses and the longest one attempt may take. */
const ATTEMPT_TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 100;

/**
 * Sends one message over HTTP until it is acknowledged (the same key on every retry: a 429 waits
 * for its Retry-After, a 5xx, a timeout or a reset retries), or `deadline`. Returns the acked
 * message and how many retries it took, or null when it never got an ack.
 */
export async function sendOverHttp(
  client: Api,
  ledger: Ledger,
  conv: string,
  sender: string,
  send: { clientMessageId: string; body: string; meta?: Record<string, unknown> },
  deadline: number,
): Promise<{ message: Message; retries: number } | null> {
  ledger.started.set(Ledger.id(conv, sender, send.clientMessageId), Date.now());
  for (let attempt = 0; attempt < MAX_ATTEMPTS && Date.now() < deadline; attempt++) {
    let wait = 250;
    try {
      const res = await client.post(`/v1/conversations/${conv}/messages`, send, {
        timeoutMs: ATTEMPT_TIMEOUT_MS,
      });
      if ((res.status === 200 || res.status === 201) && res.json?.message) {
        ledger.ack(conv, res.json.message);
        return { message: res.json.message, retries: attempt };
      }
      if (res.status !== 429 && res.status < 500) {
        ledger.unexpected.push(`${conv} ${send.clientMessageId}: ${res.status} ${res.text.slice(0, 200)}`);
        return null;
      }
      wait = Number(res.headers.get("retry-after") ?? 0) * 1000 || wait;
    } catch {
      // a timeout or a reset: retry with the same key
    }
    await sleep(Math.min(wait, 2000));
  }
  return null;
}

/** A member reading one conversation: counts what it got, in which order, and how late. */
class Reader {
  lastSeq = 0;
  deliveries = 0;
  gaps = 0;
  duplicates = 0;
  reconnects = 0;

  constructor(
    readonly transport: "ws" | "sse" | "longPoll",
    readonly conv: string,
    private readonly onDelivery: (transport: Reader["transport"], message: Message) => void,
  ) {}

  accept(message: Message): void {
    if (message.seq <= this.lastSeq) {
      this.duplicates++;
      return;
    }
    if (message.seq !== this.lastSeq + 1) this.gaps += message.seq - this.lastSeq - 1;
    this.lastSeq = message.seq;
    this.deliveries++;
    this.onDelivery(this.transport, message);
  }
}

/** A socket that sends and waits for each send's ack (reconnecting when the relay closes it). */
class SocketSender {
  #client: WsClient | null = null;
  #waiting = new Map<string, (reply: Frame | null) => void>();

  constructor(
    private readonly url: () => string,
    private readonly path: string,
    private readonly token: string,
  ) {}

  async #socket(): Promise<WsClient> {
    if (this.#client?.isOpen) return this.#client;
    const client = WsClient.connect(this.url(), this.path, { token: this.token });
    this.#client = client;
    client.ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (typeof frame.clientMessageId === "string") this.#waiting.get(frame.clientMessageId)?.(frame);
    });
    void client.closed.then(() => {
      for (const settle of this.#waiting.values()) settle(null);
    });
    await client.opened;
    return client;
  }

  /** Like {@link sendOverHttp}, over the socket: `send` → `ack` (or an `error` frame, or nothing). */
  async send(ledger: Ledger, conv: string, sender: string, key: string, body: string, deadline: number) {
    ledger.started.set(Ledger.id(conv, sender, key), Date.now());
    for (let attempt = 0; attempt < MAX_ATTEMPTS && Date.now() < deadline; attempt++) {
      let reply: Frame | null = null;
      try {
        const client = await this.#socket();
        reply = await new Promise<Frame | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), ATTEMPT_TIMEOUT_MS);
          this.#waiting.set(key, (frame) => {
            clearTimeout(timer);
            resolve(frame);
          });
          client.send({ type: "send", clientMessageId: key, body });
        });
      } catch {
        // the socket did not open: retry
      } finally {
        this.#waiting.delete(key);
      }
      if (reply?.type === "ack") {
        ledger.ack(conv, reply.message);
        return { message: reply.message as Message, retries: attempt };
      }
      await sleep(reply?.code === "rate_limited" ? 1000 : 250);
    }
    return null;
  }

  close(): void {
    this.#client?.ws.terminate();
  }
}

export interface LegitOptions {
  conversations: number;
  /** Sends started per second in all, half over HTTP and half over the socket. */
  rate: number;
}

const SENDER_HTTP = "alice";
const SENDER_WS = "bob";
const READERS = { ws: "carol", sse: "dave", longPoll: "erin" } as const;

export class Legit {
  /** Each conversation and a member of it (for the read-back). */
  readonly conversations: Array<[string, string]>;
  readonly sends = { http: [] as Sample[], ws: [] as Sample[] };
  readonly deliveries = { ws: [] as Sample[], sse: [] as Sample[], longPoll: [] as Sample[] };
  readonly readers: Reader[] = [];
  unacked = 0;
  retries = 0;
  #tokens = new Map<string, string>();
  #stopped = false;
  /** Sends waiting for their ack, and since when. */
  #inFlight = new Map<string, number>();
  #senders: Promise<void>[] = [];
  #closers: Array<() => void> = [];

  constructor(
    private readonly server: ServerHandle,
    private readonly ledger: Ledger,
    private readonly opts: LegitOptions,
  ) {
    this.conversations = Array.from({ length: opts.conversations }, (_, i) => [
      `legit-${i}`,
      READERS.longPoll,
    ]);
  }

  /** Creates the conversations and opens the readers (each one synced before the load starts). */
  async setup(): Promise<void> {
    const admin = api(() => this.server.url, this.server.serverKey);
    const members = [SENDER_HTTP, SENDER_WS, ...Object.values(READERS)];
    for (const u of members)
      this.#tokens.set(u, await mintToken(this.server.secret, u, { expiresIn: 86_400 }));
    for (const [id] of this.conversations) {
      const res = await admin.post("/v1/conversations", { id, members });
      if (res.status !== 201) throw new Error(`create ${id}: ${res.status} ${res.text}`);
      const ready = [this.#readLive("ws", id), this.#readLive("sse", id)];
      this.#readLongPoll(id);
      await Promise.all(ready);
    }
  }

  /** Starts the closed-loop senders; they start no new send after `until`. */
  start(until: number): void {
    // Each loop sends one message per `interval`, or slower when acks take longer.
    const interval = (2 * this.opts.conversations * 1000) / this.opts.rate;
    const deadline = until + 60_000;
    const http = api(() => this.server.url, this.#token(SENDER_HTTP));
    for (const [conv] of this.conversations) {
      const socket = new SocketSender(
        () => this.server.wsUrl,
        `/parties/conversation/${conv}`,
        this.#token(SENDER_WS),
      );
      this.#closers.push(() => socket.close());
      const loops = {
        http: (key: string, body: string) =>
          sendOverHttp(http, this.ledger, conv, SENDER_HTTP, { clientMessageId: key, body }, deadline),
        ws: (key: string, body: string) => socket.send(this.ledger, conv, SENDER_WS, key, body, deadline),
      };
      for (const [transport, send] of Object.entries(loops) as [keyof typeof loops, typeof loops.http][]) {
        this.#senders.push(
          (async () => {
            await sleep(Math.random() * interval); // spread the loops over the interval
            for (let n = 0; n < 1_000_000 && Date.now() < until; n++) {
              const t0 = Date.now();
              const key = `${transport}-${conv}-${n}`;
              this.#inFlight.set(key, t0);
              const acked = await send(key, `${transport} ${n} ${randomBytes(8).toString("hex")}`);
              this.#inFlight.delete(key);
              if (acked) {
                this.sends[transport].push({ at: Date.now(), ms: Date.now() - t0 });
                this.retries += acked.retries;
              } else this.unacked++;
              await sleep(Math.max(0, interval - (Date.now() - t0)));
            }
          })(),
        );
      }
    }
  }

  /** Sends waiting for their ack now, and how long the oldest has waited. */
  pending(): { count: number; oldestMs: number } {
    const oldest = Math.min(Date.now(), ...this.#inFlight.values());
    return { count: this.#inFlight.size, oldestMs: Date.now() - oldest };
  }

  /** Waits for every send already started to finish (each is bounded by its deadline). */
  async finishSending(): Promise<void> {
    await Promise.all(this.#senders);
  }

  /** Waits (bounded) until every reader of each conversation reached its last seq. */
  async catchUp(lastSeq: Map<string, number>, timeoutMs: number): Promise<void> {
    const behind = () => this.readers.filter((r) => r.lastSeq < (lastSeq.get(r.conv) ?? 0));
    for (let end = Date.now() + timeoutMs; behind().length > 0 && Date.now() < end; ) await sleep(100);
  }

  close(): void {
    this.#stopped = true;
    for (const close of this.#closers) close();
  }

  #token(user: string): string {
    return this.#tokens.get(user) as string;
  }

  #reader(transport: Reader["transport"], conv: string): Reader {
    const reader = new Reader(transport, conv, (t, message) => {
      const started = this.ledger.started.get(Ledger.id(conv, message.senderId, message.clientMessageId));
      if (started !== undefined) this.deliveries[t].push({ at: Date.now(), ms: Date.now() - started });
    });
    this.readers.push(reader);
    return reader;
  }

  /** A live reader that resumes with `after=<last seq>` whenever its connection ends; resolves once synced. */
  #readLive(transport: "ws" | "sse", conv: string): Promise<void> {
    const reader = this.#reader(transport, conv);
    return new Promise((synced) => {
      const onFrame = (frame: Frame) => {
        if (frame.type === "message") reader.accept(frame.message);
        else if (frame.type === "synced") synced();
      };
      const connect = () => {
        if (this.#stopped) return;
        const { ended, close } = (transport === "ws" ? this.#openWs : this.#openSse)(
          conv,
          reader.lastSeq,
          onFrame,
        );
        this.#closers.push(close);
        void ended.then(() => {
          reader.reconnects++;
          setTimeout(connect, 250);
        });
      };
      connect();
    });
  }

  #openWs = (conv: string, after: number, onFrame: (frame: Frame) => void) => {
    const client = WsClient.connect(this.server.wsUrl, `/parties/conversation/${conv}`, {
      token: this.#token(READERS.ws),
      after,
    });
    client.ws.on("message", (data) => onFrame(JSON.parse(String(data))));
    return { ended: client.closed, close: () => client.ws.terminate() };
  };

  #openSse = (conv: string, after: number, onFrame: (frame: Frame) => void) => {
    const token = this.#token(READERS.sse);
    const url = `${this.server.url}/v1/conversations/${conv}/events?after=${after}&token=${token}`;
    const client = new SseClient(url, {}, (event) => onFrame(event.data));
    return { ended: client.ended, close: () => void client.close() };
  };

  /** A long-poll reader: `after=<last seq>&wait=25`, again as soon as an answer arrives. */
  #readLongPoll(conv: string): void {
    const reader = this.#reader("longPoll", conv);
    const client = api(() => this.server.url, this.#token(READERS.longPoll));
    void (async () => {
      for (let n = 0; n < 1_000_000 && !this.#stopped; n++) {
        try {
          const res = await client.get(
            `/v1/conversations/${conv}/messages?after=${reader.lastSeq}&wait=25&limit=200`,
            { timeoutMs: 40_000 },
          );
          if (res.status === 200) for (const m of res.json.messages as Message[]) reader.accept(m);
          else await sleep(500);
        } catch {
          reader.reconnects++;
          await sleep(500);
        }
      }
    })();
  }
}
