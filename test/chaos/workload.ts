/**
 * The Jepsen-style chaos workload, shared by `chaos.test.ts` (bounded, in CI) and `run.ts`
 * (`npm run test:chaos`, full size): senders that retry with their idempotency keys, and
 * reactions (a change entry each) that are retried until acknowledged, and WebSocket
 * subscribers that resume with `after`, while the relay is SIGKILLed and restarted. Then a
 * checker over the log: acked ⊆ stored ⊆ attempted for messages and changes; no key and no
 * reaction stored twice; entries 1..N gap-free per conversation; every subscriber gap-free and
 * duplicate-free over all entries.
 *
 * No vitest here: the script runs it without a test runner.
 */
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { defaultLimits } from "../../party/core/limits.ts";
import { type Api, api, type Message, mintToken } from "../helpers/clients.ts";
import { type ServerHandle, startServer } from "../helpers/server.ts";

export interface ChaosOptions {
  /** SIGKILL + restart cycles. */
  kills: number;
  /** New sends started per second (across all conversations). */
  rate: number;
  conversations: number;
  /** How long new sends are started (kills are spread over this time). */
  seconds: number;
  /** WebSocket subscribers per conversation. Default 2. */
  subscribers?: number;
  /** Progress lines (not the result line). */
  log?: (line: string) => void;
}

export interface ChaosResult {
  kills: number;
  attempted: number;
  acked: number;
  stored: number;
  /** Sends that never got an ack before the final deadline. */
  unacked: number;
  /** Keys stored more than once (extra copies). */
  duplicates: number;
  /** Missing seqs in the stored logs (1..N per conversation). */
  gaps: number;
  /** Acked messages missing from the store or stored differently (seq, body). */
  lostAcked: number;
  /** Stored messages nobody attempted (or with another body). */
  phantom: number;
  /** Acks of one key with two different seqs. */
  ackConflicts: number;
  /** Answers other than 200/201/503/429 or a network error. */
  unexpected: number;
  retries: number;
  subscriberDeliveries: number;
  subscriberGaps: number;
  subscriberDuplicates: number;
  /** Reactions (change entries) started, acknowledged, and found in the log. */
  changesAttempted: number;
  changesAcked: number;
  changesStored: number;
  /** Acked reactions missing from the log, or present more than once. */
  changesLost: number;
  changesDuplicated: number;
  /** Subscribers that did not reach the conversation's last seq at the end. */
  subscribersBehind: number;
  reconnects: number;
  durationMs: number;
  /** Longest time one send took from first attempt to ack. */
  maxAckMs: number;
}

export function isClean(r: ChaosResult): boolean {
  return (
    r.duplicates === 0 &&
    r.gaps === 0 &&
    r.lostAcked === 0 &&
    r.phantom === 0 &&
    r.ackConflicts === 0 &&
    r.unexpected === 0 &&
    r.subscriberGaps === 0 &&
    r.subscriberDuplicates === 0 &&
    r.subscribersBehind === 0 &&
    r.unacked === 0 &&
    r.acked === r.attempted &&
    r.stored === r.attempted &&
    r.changesLost === 0 &&
    r.changesDuplicated === 0 &&
    r.changesAcked === r.changesAttempted &&
    r.changesStored === r.changesAttempted
  );
}

/** The one line of counts. */
export function chaosLine(r: ChaosResult): string {
  return (
    `chaos: kills=${r.kills} attempted=${r.attempted} acked=${r.acked} stored=${r.stored} ` +
    `duplicates=${r.duplicates} gaps=${r.gaps} lostAcked=${r.lostAcked} phantom=${r.phantom} ` +
    `unacked=${r.unacked} unexpected=${r.unexpected} retries=${r.retries} ` +
    `changes=${r.changesAttempted}/${r.changesAcked}/${r.changesStored} changesLost=${r.changesLost} changesDuplicated=${r.changesDuplicated} ` +
    `subscriberDeliveries=${r.subscriberDeliveries} subscriberGaps=${r.subscriberGaps} ` +
    `subscriberDuplicates=${r.subscriberDuplicates} subscribersBehind=${r.subscribersBehind} ` +
    `reconnects=${r.reconnects} maxAckMs=${r.maxAckMs} seconds=${(r.durationMs / 1000).toFixed(1)}`
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (min: number, max: number) => min + Math.floor(Math.random() * (max - min));

interface Attempt {
  conv: string;
  sender: string;
  key: string;
  body: string;
  startedAt: number;
}

/** A reaction: one change entry, retried until acknowledged (a retry of a done one is a no-op). */
/** The relay's cap on one person's distinct reactions to a message (the chaos relay keeps the default). */
const REACTION_KEYS_PER_USER = defaultLimits.reactionKeysPerUser;

interface ReactionAttempt {
  conv: string;
  sender: string;
  target: number;
  key: string;
}

/** One stored log entry, as `/log` returns it. */
type StoredEntry =
  | { type: "message"; message: Message }
  | {
      type: "change";
      change: { seq: number; target: number; kind: string; userId: string | null; key?: string };
      message: Message;
    };

const entrySeq = (e: StoredEntry) => (e.type === "message" ? e.message.seq : e.change.seq);

/** A subscriber that resumes with `after` on every close, and counts gaps and duplicates. */
class Subscriber {
  lastSeq = 0;
  deliveries = 0;
  gaps = 0;
  duplicates = 0;
  reconnects = 0;
  replaced = 0;
  private ws: WebSocket | null = null;
  private stopped = false;
  private readonly pk = `sub-${randomBytes(4).toString("hex")}`;

  constructor(
    private readonly server: ServerHandle,
    private readonly conv: string,
    private readonly token: string,
  ) {}

  start(): void {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const url = `${this.server.wsUrl}/parties/conversation/${this.conv}?token=${this.token}&after=${this.lastSeq}&_pk=${this.pk}`;
    const ws = new WebSocket(url, { handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on("message", (data) => {
      if (ws !== this.ws) return;
      let frame: { type?: string; message?: { seq?: number }; change?: { seq?: number } };
      try {
        frame = JSON.parse(String(data));
      } catch {
        return;
      }
      // Every log entry counts: a change has its own seq, like a message.
      const seq =
        frame.type === "message"
          ? frame.message?.seq
          : frame.type === "change"
            ? frame.change?.seq
            : undefined;
      if (typeof seq !== "number") return;
      if (seq <= this.lastSeq) {
        this.duplicates++;
        return;
      }
      if (seq !== this.lastSeq + 1) this.gaps += seq - this.lastSeq - 1;
      this.lastSeq = seq;
      this.deliveries++;
    });
    ws.on("error", () => undefined);
    ws.on("close", (code) => {
      if (ws !== this.ws || this.stopped) return;
      if (code === 4009) this.replaced++;
      this.reconnects++;
      setTimeout(() => this.connect(), jitter(50, 250));
    });
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

/** Runs the workload on a fresh relay and checks the outcome. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const server = await startServer({
    env: {
      PARLEY_SEND_RATE: "100000",
      PARLEY_SEND_BURST: "100000",
      PARLEY_FRAME_RATE: "100000",
      PARLEY_FRAME_BURST: "100000",
      PARLEY_LOG: "error",
    },
  });
  const subscribersPer = opts.subscribers ?? 2;
  const subs: Subscriber[] = [];
  try {
    const admin = api(() => server.url, server.serverKey);
    // Conversations: two senders and the subscribers each.
    const convs: Array<{ id: string; senders: string[]; subs: string[] }> = [];
    for (let c = 0; c < opts.conversations; c++) {
      const id = `chaos-${c}`;
      const senders = [`s${c}a`, `s${c}b`];
      const subUsers = Array.from({ length: subscribersPer }, (_, i) => `r${c}-${i}`);
      const res = await admin.post("/v1/conversations", { id, members: [...senders, ...subUsers] });
      if (res.status !== 201) throw new Error(`create ${id}: ${res.status} ${res.text}`);
      convs.push({ id, senders, subs: subUsers });
    }
    const apis = new Map<string, Api>();
    const tokens = new Map<string, string>();
    for (const c of convs) {
      for (const u of [...c.senders, ...c.subs]) {
        const t = await mintToken(server.secret, u, { expiresIn: 24 * 3600 });
        tokens.set(u, t);
        apis.set(
          u,
          api(() => server.url, t),
        );
      }
    }
    for (const c of convs) {
      for (const u of c.subs) {
        const s = new Subscriber(server, c.id, tokens.get(u) as string);
        subs.push(s);
        s.start();
      }
    }

    // ---- senders
    const attempts = new Map<string, Attempt>(); // `${conv}/${sender}/${key}`
    const acked = new Map<string, { seq: number; body: string }>();
    let ackConflicts = 0;
    let unexpected = 0;
    let retries = 0;
    let maxAckMs = 0;
    let inflight = 0;
    const unexpectedSamples: string[] = [];
    /** Why attempts failed: HTTP status, or "network" while the relay is down. */
    const failures = new Map<string, number>();
    const loadStarted = Date.now();
    const sendDeadline = loadStarted + opts.seconds * 1000 + 90_000;

    const sendOne = async (a: Attempt): Promise<void> => {
      const client = apis.get(a.sender) as Api;
      for (let attempt = 0; attempt < 10_000 && Date.now() < sendDeadline; attempt++) {
        if (attempt > 0) retries++;
        let status = 0;
        let message: Message | undefined;
        let retryAfter = 0;
        try {
          const res = await client.post(
            `/v1/conversations/${a.conv}/messages`,
            { clientMessageId: a.key, body: a.body },
            { timeoutMs: 8000 },
          );
          status = res.status;
          message = res.json?.message;
          retryAfter = Number(res.headers.get("retry-after") ?? 0);
          if (status !== 200 && status !== 201 && status !== 503 && status !== 429) {
            unexpected++;
            if (unexpectedSamples.length < 5) unexpectedSamples.push(`${status} ${res.text.slice(0, 200)}`);
            return;
          }
        } catch {
          status = 0; // connection refused / reset / timeout while the relay is down
        }
        if (status !== 200 && status !== 201) {
          const why = status === 0 ? "network" : String(status);
          failures.set(why, (failures.get(why) ?? 0) + 1);
        }
        if ((status === 200 || status === 201) && message) {
          const id = `${a.conv}/${a.sender}/${a.key}`;
          const prev = acked.get(id);
          if (prev && prev.seq !== message.seq) ackConflicts++;
          if (message.body !== a.body || message.clientMessageId !== a.key || message.senderId !== a.sender) {
            unexpected++;
          }
          acked.set(id, { seq: message.seq, body: message.body });
          newest.set(a.conv, Math.max(newest.get(a.conv) ?? 0, message.seq));
          maxAckMs = Math.max(maxAckMs, Date.now() - a.startedAt);
          return;
        }
        await sleep(retryAfter > 0 ? Math.min(retryAfter * 1000, 2000) : jitter(100, 400));
      }
    };

    // ---- reactions: retried until acknowledged; the key is unique, so an acked one is one entry.
    const reactions = new Map<string, ReactionAttempt>(); // `${conv}/${sender}/${target}/${key}`
    const reactionsAcked = new Set<string>();
    /** The newest acknowledged message of each conversation (a reaction's target). */
    const newest = new Map<string, number>();
    const reactOne = async (r: ReactionAttempt): Promise<void> => {
      const client = apis.get(r.sender) as Api;
      const id = `${r.conv}/${r.sender}/${r.target}/${r.key}`;
      for (let attempt = 0; attempt < 10_000 && Date.now() < sendDeadline; attempt++) {
        if (attempt > 0) retries++;
        let status = 0;
        let retryAfter = 0;
        try {
          const res = await client.put(
            `/v1/conversations/${r.conv}/messages/${r.target}/reactions/${r.key}`,
            undefined,
            {
              timeoutMs: 8000,
            },
          );
          status = res.status;
          retryAfter = Number(res.headers.get("retry-after") ?? 0);
          if (status === 200) {
            if (!res.json?.message?.reactions?.[r.key]?.users?.includes(r.sender)) unexpected++;
            reactionsAcked.add(id);
            return;
          }
          if (status !== 503 && status !== 429) {
            unexpected++;
            if (unexpectedSamples.length < 5)
              unexpectedSamples.push(`react ${status} ${res.text.slice(0, 200)}`);
            return;
          }
        } catch {
          status = 0;
        }
        const why = status === 0 ? "network" : String(status);
        failures.set(why, (failures.get(why) ?? 0) + 1);
        await sleep(retryAfter > 0 ? Math.min(retryAfter * 1000, 2000) : jitter(100, 400));
      }
    };

    const running = new Set<Promise<void>>();
    /** Reactions issued per (conversation, sender, target message). */
    const reactionsPerTarget = new Map<string, number>();
    let issued = 0;
    const issueUntil = loadStarted + opts.seconds * 1000;
    const issuer = (async () => {
      const t0 = Date.now();
      for (let tick = 0; tick < 1_000_000 && Date.now() < issueUntil; tick++) {
        const due = Math.floor(((Date.now() - t0) / 1000) * opts.rate);
        for (; issued < due && inflight < 5000; issued++) {
          const c = convs[issued % convs.length] as (typeof convs)[number];
          const sender = c.senders[Math.floor(issued / convs.length) % c.senders.length] as string;
          const target = newest.get(c.id);
          const slot = `${c.id}/${sender}/${target}`;
          const mine = reactionsPerTarget.get(slot) ?? 0;
          // A reaction instead of a send, on the conversation's newest acknowledged message; while
          // the relay is down that message stays the newest, so a sender's reactions on it are
          // kept under the relay's per-person cap (10 keys), else they would be refused with 409.
          if (issued % 4 === 3 && target !== undefined && mine < REACTION_KEYS_PER_USER) {
            reactionsPerTarget.set(slot, mine + 1);
            const r: ReactionAttempt = { conv: c.id, sender, target, key: `x${issued}` };
            reactions.set(`${r.conv}/${r.sender}/${r.target}/${r.key}`, r);
            inflight++;
            const p = reactOne(r).finally(() => {
              inflight--;
              running.delete(p);
            });
            running.add(p);
            continue;
          }
          const key = `k${issued}`;
          const a: Attempt = {
            conv: c.id,
            sender,
            key,
            body: `chaos ${issued} ${randomBytes(6).toString("hex")}`,
            startedAt: Date.now(),
          };
          attempts.set(`${a.conv}/${a.sender}/${a.key}`, a);
          inflight++;
          const p = sendOne(a).finally(() => {
            inflight--;
            running.delete(p);
          });
          running.add(p);
        }
        await sleep(10);
      }
    })();

    // ---- killer: kills spread over the sending window; the relay is up a while between kills.
    let kills = 0;
    const killer = (async () => {
      const window = opts.seconds * 1000;
      for (let k = 0; k < opts.kills; k++) {
        const at = loadStarted + ((k + 1) * window) / (opts.kills + 1) + jitter(-150, 150);
        const wait = at - Date.now();
        if (wait > 0) await sleep(wait);
        await server.kill();
        kills++;
        await sleep(jitter(0, 200));
        await server.restart();
        log(
          `kill ${kills}/${opts.kills}: restarted at ${((Date.now() - loadStarted) / 1000).toFixed(1)} s, ${acked.size} acked`,
        );
        await sleep(200); // at least some traffic between two kills
      }
    })();

    await Promise.all([issuer, killer]);
    // Drain: every started send finishes (acked, or out of time).
    for (let i = 0; i < 1000 && running.size > 0 && Date.now() < sendDeadline + 10_000; i++) await sleep(100);

    // ---- read back what is stored
    const stored = new Map<string, Message[]>();
    const storedEntries = new Map<string, StoredEntry[]>();
    for (const c of convs) {
      const all: StoredEntry[] = [];
      let after = 0;
      for (let page = 0; page < 10_000; page++) {
        const res = await admin.get(`/v1/conversations/${c.id}/log?after=${after}&limit=500`);
        if (res.status !== 200) throw new Error(`log ${c.id}: ${res.status} ${res.text}`);
        const entries = res.json.entries as StoredEntry[];
        all.push(...entries);
        if (!res.json.hasMore || entries.length === 0) break;
        after = entrySeq(entries.at(-1) as StoredEntry);
      }
      storedEntries.set(c.id, all);
      stored.set(
        c.id,
        all.flatMap((e) => (e.type === "message" ? [e.message] : [])),
      );
    }
    // Subscribers catch up (bounded).
    const lastOf = (conv: string) => storedEntries.get(conv)?.length ?? 0;
    const behind = () =>
      subs.filter((s, i) => s.lastSeq < lastOf(convs[Math.floor(i / subscribersPer)]?.id ?? ""));
    for (let i = 0; i < 300 && behind().length > 0; i++) await sleep(100);

    // ---- check
    let storedCount = 0;
    let duplicates = 0;
    let gaps = 0;
    let phantom = 0;
    let lostAcked = 0;
    const bySeq = new Map<string, Message>();
    for (const [conv, msgs] of stored) {
      storedCount += msgs.length;
      const keys = new Set<string>();
      const seqs = new Set<number>();
      for (const m of msgs) {
        const id = `${conv}/${m.senderId}/${m.clientMessageId}`;
        if (keys.has(id)) duplicates++;
        keys.add(id);
        seqs.add(m.seq);
        bySeq.set(`${conv}#${m.seq}`, m);
        const a = attempts.get(id);
        if (!a || a.body !== m.body) phantom++;
      }
    }
    // Gaps over every entry of the log (messages and changes share one seq).
    let changesStored = 0;
    let changesDuplicated = 0;
    const storedReactions = new Set<string>();
    for (const [conv, entries] of storedEntries) {
      const seqs = new Set(entries.map(entrySeq));
      const maxSeq = entries.reduce((mx, e) => Math.max(mx, entrySeq(e)), 0);
      for (let s = 1; s <= maxSeq; s++) if (!seqs.has(s)) gaps++;
      for (const e of entries) {
        if (e.type !== "change") continue;
        changesStored++;
        const id = `${conv}/${e.change.userId}/${e.change.target}/${e.change.key}`;
        if (e.change.kind !== "react" || !reactions.has(id)) phantom++;
        if (storedReactions.has(id)) changesDuplicated++;
        storedReactions.add(id);
      }
    }
    let changesLost = 0;
    for (const id of reactionsAcked) if (!storedReactions.has(id)) changesLost++;
    for (const [id, ack] of acked) {
      const conv = id.slice(0, id.indexOf("/"));
      const m = bySeq.get(`${conv}#${ack.seq}`);
      if (!m || `${conv}/${m.senderId}/${m.clientMessageId}` !== id || m.body !== ack.body) lostAcked++;
    }
    const result: ChaosResult = {
      kills,
      attempted: attempts.size,
      acked: acked.size,
      stored: storedCount,
      unacked: attempts.size - acked.size,
      duplicates,
      gaps,
      lostAcked,
      phantom,
      ackConflicts,
      unexpected,
      retries,
      changesAttempted: reactions.size,
      changesAcked: reactionsAcked.size,
      changesStored,
      changesLost,
      changesDuplicated,
      subscriberDeliveries: subs.reduce((n, s) => n + s.deliveries, 0),
      subscriberGaps: subs.reduce((n, s) => n + s.gaps, 0),
      subscriberDuplicates: subs.reduce((n, s) => n + s.duplicates, 0),
      subscribersBehind: behind().length,
      reconnects: subs.reduce((n, s) => n + s.reconnects, 0),
      durationMs: Date.now() - started,
      maxAckMs,
    };
    log(`failed attempts by cause: ${JSON.stringify(Object.fromEntries(failures))}`);
    if (unexpectedSamples.length > 0) log(`unexpected answers: ${unexpectedSamples.join(" | ")}`);
    return result;
  } finally {
    for (const s of subs) s.stop();
    await server.dispose();
  }
}

/** Reads the size knobs from the environment (CHAOS_KILLS, CHAOS_RATE, CHAOS_CONVERSATIONS, CHAOS_SECONDS). */
export function optionsFromEnv(
  env: NodeJS.ProcessEnv,
  defaults: Omit<ChaosOptions, "log">,
): Omit<ChaosOptions, "log"> {
  const num = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
    return n;
  };
  return {
    kills: Math.floor(num("CHAOS_KILLS", defaults.kills)),
    rate: num("CHAOS_RATE", defaults.rate),
    conversations: Math.max(1, Math.floor(num("CHAOS_CONVERSATIONS", defaults.conversations))),
    seconds: num("CHAOS_SECONDS", defaults.seconds),
    subscribers: Math.max(0, Math.floor(num("CHAOS_SUBSCRIBERS", defaults.subscribers ?? 2))),
  };
}
