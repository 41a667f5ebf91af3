/**
 * The hostile side of the soak: two attacker users, mallory and trudy, who stay inside every
 * documented limit of the relay's defaults. They are members of two conversations of their own:
 * `den`, seeded with big messages (16 KiB stored, 64 KiB on the wire: see {@link bigBody}) and
 * kept busy with more of them, and `lair`, quiet, where they keep one big message and one with a
 * huge `meta` to send again. Each pattern of issue 12 runs as a number of slots; a slot whose
 * connection the relay ends opens a new one at once, as a real attacker would, and what each
 * connection got is counted (see {@link PatternReport}).
 *
 * (1) history requests of 200 large messages whose client never reads the answer;
 * (2) WebSocket and SSE resumes from `after=0` that never read;
 * (3) a socket that re-sends a known big message (each re-send is answered with an ack of 64 KiB)
 *     just under the frame rate, and never reads;
 * (4) many long-polls held at once by one user;
 * (5) invalid 64 KiB frames just under the frame rate;
 * (6) re-sends of a message whose meta is the largest array a 64 KiB frame holds;
 * (7) a keep-alive connection whose second request's headers come one byte a second;
 * (8) an inbox socket per attacker that never reads while `den` is busy.
 */
import { randomBytes } from "node:crypto";
import { api, mintToken } from "../helpers/clients.ts";
import type { ServerHandle } from "../helpers/server.ts";
import { encodeFrame, Op } from "../security/raw-ws.ts";
import { type Ledger, sendOverHttp, sleep } from "./soak-legit.ts";
import { getRequest, observe, RawClient, type ReadMode, tcpTable, upgradeRequest } from "./soak-raw.ts";

/** The relay's documented defaults that the attackers stay under. */
const FRAME_RATE = 50;
const MAX_FRAME_BYTES = 64 * 1024;
const MAX_MESSAGE_BYTES = 16 * 1024;
/** An upload is paused while this much of it waits in our socket (the relay is not reading us). */
const UPLOAD_BACKLOG = 1024 * 1024;
/** How long a connection the relay let go is read, to learn how it ended. */
const DRAIN_MS = 3000;
const RECONNECT_MS = 250;
const MAX_CONNECTIONS_PER_SLOT = 10_000;

const ATTACKERS = ["mallory", "trudy"] as const;
const DEN = "den";
const LAIR = "lair";

/** The patterns that hold connections, by the name of their count in {@link HostileCounts}. */
export const PATTERNS = [
  "historyNoRead",
  "wsResumes",
  "sseResumes",
  "uploaders",
  "longPolls",
  "flooders",
  "metaResenders",
  "slowloris",
  "inboxes",
] as const;
export type PatternName = (typeof PATTERNS)[number];

export interface HostileCounts {
  historyNoRead: number;
  wsResumes: number;
  sseResumes: number;
  uploaders: number;
  longPolls: number;
  flooders: number;
  metaResenders: number;
  slowloris: number;
  inboxes: number;
  /** New 16 KiB messages a second into `den`, both attackers together (each may send 20/s). */
  busyRate: number;
  /** 16 KiB messages in `den` before the load starts. */
  seedMessages: number;
  /** Frames a second of each uploading socket (3, 5, 6): just under the frame limit at full size. */
  uploadRate: number;
}

/** The full-size hostile mix; `scale` multiplies the connection counts (0: no attackers). */
export function hostileCounts(scale: number): HostileCounts {
  const n = (base: number) => Math.round(base * scale);
  const on = scale > 0 ? 1 : 0;
  return {
    historyNoRead: n(40),
    wsResumes: n(10),
    sseResumes: n(10),
    uploaders: n(5),
    longPolls: n(500),
    flooders: n(40),
    metaResenders: n(5),
    slowloris: n(10),
    inboxes: 2 * on,
    busyRate: 10 * on,
    seedMessages: 200 * on,
    uploadRate: FRAME_RATE * 0.9, // a real attacker leaves a margin for jitter
  };
}

/** Control characters that JSON writes as six bytes (`\u0001`); \b \t \n \f \r take two. */
const ESCAPED = [1, 2, 3, 4, 5, 6, 7, 11, ...Array.from({ length: 18 }, (_, i) => 14 + i)].map((c) =>
  String.fromCharCode(c),
);
/** Of a body's 16 KiB, how many are control characters: as many as keep a send within 64 KiB. */
const ESCAPED_CHARS = 9800;

/**
 * A body as large as the limits let an attacker make it: 16 KiB stored (the body limit), and
 * about 64 KiB on the wire (the frame limit), because 9,800 of its characters are control
 * characters that JSON escapes to six bytes each. Every answer that carries it (a history page,
 * a replay, an ack, an inbox's last message) is that large.
 */
function bigBody(): string {
  const random = randomBytes(MAX_MESSAGE_BYTES);
  let escaped = "";
  for (let i = 0; i < ESCAPED_CHARS; i++) escaped += ESCAPED[(random[i] as number) % ESCAPED.length];
  return escaped + random.toString("base64").slice(0, MAX_MESSAGE_BYTES - ESCAPED_CHARS);
}

/** The largest `n` for which `make(n)` (a JSON text holding an array of n zeros) fits in `limit` bytes. */
function largestArray(make: (n: number) => string, limit: number): string {
  const n = Math.floor((limit - make(0).length + 1) / 2); // each element adds "0," (2 bytes)
  const text = make(n);
  if (Buffer.byteLength(text) > limit) throw new Error(`frame of ${Buffer.byteLength(text)} bytes`);
  return text;
}

export interface PatternReport {
  name: PatternName;
  what: string;
  /** Connections kept open at once. */
  slots: number;
  /** Connections opened in all (a slot reconnects when the relay lets go). */
  opened: number;
  /** How each connection ended, e.g. "closed 4008" or "open at the end (never read)". */
  outcomes: Record<string, number>;
  /** Bytes the relay pushed into one connection (read, or still queued in the kernels), largest. */
  maxBytes: number;
  totalBytes: number;
  /** Longest time one connection was held. */
  maxHeldMs: number;
  /** Frames uploaded (patterns 3, 5, 6), and ticks on which our upload waited for the relay to read. */
  framesSent: number;
  uploadStalls: number;
}

type Attacker = (typeof ATTACKERS)[number];

interface Pattern extends PatternReport {
  mode: ReadMode;
  /** The request that opens one connection. */
  request: (user: Attacker) => string;
  /** Uploads its frame (`#frames`) `uploadRate` times a second once the upgrade is through. */
  uploads: boolean;
  /** A second request, written one byte a second after the first answer. */
  trickle: string;
  live: Map<RawClient, { user: Attacker; tokens: number; trickled: number }>;
}

export class Hostile {
  readonly patterns: Pattern[];
  /** The attackers' conversations and a member of each, once seeded (for the read-back). */
  readonly conversations: Array<[string, string]> = [];
  /** Sends into `den` while the load runs. */
  busySent = 0;
  busyAcked = 0;
  #tokens = new Map<string, string>();
  /** Each uploaded frame by `pattern/user`, encoded and masked once: the harness must not spend the CPU it measures. */
  #frames = new Map<string, Buffer>();
  #lairLastSeq = 0;
  #running = false;
  #slots: Promise<void>[] = [];
  #timers: NodeJS.Timeout[] = [];
  #busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly server: ServerHandle,
    private readonly ledger: Ledger,
    private readonly counts: HostileCounts,
  ) {
    const token = (user: string) => this.#tokens.get(user) as string;
    const get = (path: string, headers?: Record<string, string>) => getRequest(server.port, path, headers);
    const lairSocket = (u: Attacker) =>
      upgradeRequest(server.port, `/parties/conversation/${LAIR}?token=${token(u)}`);
    const pattern = (
      name: PatternName,
      what: string,
      mode: ReadMode,
      request: Pattern["request"],
      extra = {},
    ) =>
      ({
        name,
        what,
        mode,
        request,
        uploads: false,
        trickle: "",
        slots: counts[name],
        opened: 0,
        outcomes: {},
        maxBytes: 0,
        totalBytes: 0,
        maxHeldMs: 0,
        framesSent: 0,
        uploadStalls: 0,
        live: new Map(),
        ...extra,
      }) satisfies Pattern;
    this.patterns = [
      pattern("historyNoRead", "(1) GET den/messages?limit=200, never read", "never", (u) =>
        get(`/v1/conversations/${DEN}/messages?limit=200&token=${token(u)}`),
      ),
      pattern("wsResumes", "(2) WebSocket den after=0, never read", "never", (u) =>
        upgradeRequest(server.port, `/parties/conversation/${DEN}?token=${token(u)}&after=0`),
      ),
      pattern("sseResumes", "(2) SSE den after=0, never read", "never", (u) =>
        get(`/v1/conversations/${DEN}/events?after=0&token=${token(u)}`, { Accept: "text/event-stream" }),
      ),
      pattern(
        "uploaders",
        "(3) re-send of a known big message (64 KiB acks), never read",
        "head",
        lairSocket,
        {
          uploads: true,
        },
      ),
      pattern("longPolls", "(4) long-polls of one user on quiet lair, wait=30", "always", () =>
        get(`/v1/conversations/${LAIR}/messages?after=${this.#lairLastSeq}&wait=30&token=${token("trudy")}`, {
          Connection: "close",
        }),
      ),
      pattern("flooders", "(5) invalid 64 KiB frames", "always", lairSocket, { uploads: true }),
      pattern(
        "metaResenders",
        "(6) re-send of a message with a ~32,000-element meta array",
        "always",
        lairSocket,
        {
          uploads: true,
        },
      ),
      pattern(
        "slowloris",
        "(7) keep-alive: 2nd request's headers at 1 byte/s",
        "always",
        () => get("/healthz"),
        {
          trickle: get("/healthz", { "X-Slow": "a".repeat(4000) }),
        },
      ),
      pattern("inboxes", "(8) inbox socket per attacker, never read, den busy", "never", (u) =>
        upgradeRequest(server.port, `/parties/inbox/${u}?token=${token(u)}`),
      ),
    ];
  }

  /** Creates the attackers' conversations, their messages and the frames they upload (within the send rate). */
  async seed(): Promise<void> {
    if (this.counts.seedMessages === 0 && this.patterns.every((p) => p.slots === 0)) return;
    const admin = api(() => this.server.url, this.server.serverKey);
    for (const id of [DEN, LAIR]) {
      const res = await admin.post("/v1/conversations", { id, members: [...ATTACKERS] });
      if (res.status !== 201) throw new Error(`create ${id}: ${res.status} ${res.text}`);
      this.conversations.push([id, ATTACKERS[0]]);
    }
    for (const u of ATTACKERS)
      this.#tokens.set(u, await mintToken(this.server.secret, u, { expiresIn: 86_400 }));
    const deadline = Date.now() + 120_000;
    const frame = (json: string) => encodeFrame(Op.text, Buffer.from(json));
    await Promise.all(
      ATTACKERS.map(async (u, i) => {
        // Seeded with the server key as the attacker: setting the stage is not the attack, and the
        // attacker's own byte budget would only make the seeding slow.
        const send = async (conv: string, fields: { clientMessageId: string; body: string }) => {
          const asMember = { ...fields, senderId: u } as typeof fields;
          const acked = await sendOverHttp(admin, this.ledger, conv, u, asMember, deadline);
          if (!acked) throw new Error(`seeding ${conv}/${fields.clientMessageId} failed`);
          this.#lairLastSeq = Math.max(this.#lairLastSeq, conv === LAIR ? acked.message.seq : 0);
        };
        for (let k = i; k < this.counts.seedMessages; k += ATTACKERS.length) {
          await send(DEN, { clientMessageId: `seed-${k}`, body: bigBody() });
        }
        // A re-sent frame is the seeded send itself, so that the relay must answer it with an ack.
        const big = { clientMessageId: `big-${u}`, body: bigBody() };
        await send(LAIR, big);
        this.#frames.set(`uploaders/${u}`, frame(JSON.stringify({ type: "send", ...big })));
        const meta = largestArray(
          (n) =>
            `{"clientMessageId":"meta-${u}","body":"m","meta":{"a":[${"0,".repeat(n).slice(0, -1)}]},"type":"send"}`,
          MAX_FRAME_BYTES,
        );
        const { type: _, ...metaSend } = JSON.parse(meta);
        // A relay that caps meta refuses it (413): then every re-send is refused too, cheaply.
        const seeded = await admin.post(`/v1/conversations/${LAIR}/messages`, { ...metaSend, senderId: u });
        if (seeded.status === 200 || seeded.status === 201) this.ledger.ack(LAIR, seeded.json.message);
        else if (seeded.status !== 413)
          throw new Error(`seeding the meta message: ${seeded.status} ${seeded.text}`);
        this.#frames.set(`metaResenders/${u}`, frame(meta));
        const flood = largestArray(
          (n) => `{"type":"flood","pad":[${"0,".repeat(n).slice(0, -1)}]}`,
          MAX_FRAME_BYTES,
        );
        this.#frames.set(`flooders/${u}`, frame(flood));
      }),
    );
  }

  /** Opens every slot, starts the uploads, the trickles and the busy sender. */
  start(): void {
    this.#running = true;
    for (const p of this.patterns) {
      // Opened a few milliseconds apart: hundreds of SYNs at once would overflow the listen backlog.
      for (let slot = 0; slot < p.slots; slot++)
        this.#slots.push(sleep(slot * 5).then(() => this.#slot(p, slot)));
    }
    this.#timers.push(
      setInterval(() => this.#pace(0.1), 100),
      setInterval(() => this.#trickle(), 1000),
      setInterval(() => this.#watch(), 2000),
    );
    if (this.counts.busyRate > 0) this.#busy = this.#sendBusy();
  }

  /** Connections open now, by pattern name. */
  openNow(): Record<string, number> {
    return Object.fromEntries(this.patterns.filter((p) => p.slots > 0).map((p) => [p.name, p.live.size]));
  }

  /**
   * Hangs up every connection the relay still holds (noting what the kernels held for it) and
   * waits for the slots; those the relay let go are read first (bounded), like during the run.
   */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    for (const t of this.#timers) clearInterval(t);
    const table = tcpTable();
    for (const p of this.patterns) {
      for (const c of p.live.keys()) {
        if (c.mode !== "always") observe(c, this.server.port, table);
        if (c.relayLetGo) continue;
        c.hungUp = true;
        c.socket.destroy();
      }
    }
    await Promise.all([...this.#slots, this.#busy]);
  }

  reports(): PatternReport[] {
    return this.patterns.map(
      ({ mode: _m, request: _r, uploads: _u, trickle: _t, live: _l, ...report }) => report,
    );
  }

  async #slot(p: Pattern, slot: number): Promise<void> {
    const user = ATTACKERS[slot % ATTACKERS.length] as Attacker;
    for (let n = 0; n < MAX_CONNECTIONS_PER_SLOT && this.#running; n++) {
      const c = new RawClient(this.server.port, p.request(user), p.mode);
      p.opened++;
      p.live.set(c, { user, tokens: 0, trickled: 0 });
      await Promise.race([c.closed, c.letGo]);
      // The relay let go of a client that does not read: read what it left, to learn how it ended.
      if (c.mode !== "always" && !c.hungUp) await c.drain(DRAIN_MS);
      await c.closed;
      p.live.delete(c);
      this.#record(p, c);
      if (this.#running) await sleep(RECONNECT_MS);
    }
  }

  #record(p: Pattern, c: RawClient): void {
    const outcome = describe(c, p.trickle !== "");
    p.outcomes[outcome] = (p.outcomes[outcome] ?? 0) + 1;
    p.maxBytes = Math.max(p.maxBytes, c.bytesPushed);
    p.totalBytes += c.bytesPushed;
    p.maxHeldMs = Math.max(p.maxHeldMs, c.endedAt - c.openedAt);
  }

  /** Uploads each pattern's frame at `uploadRate`, never faster than the relay reads it. */
  #pace(seconds: number): void {
    for (const p of this.patterns) {
      if (!p.uploads) continue;
      for (const [c, state] of p.live) {
        if (c.status !== 101 || c.socket.destroyed) continue;
        state.tokens = Math.min(state.tokens + this.counts.uploadRate * seconds, 10);
        if (c.socket.writableLength > UPLOAD_BACKLOG) {
          p.uploadStalls++;
          continue;
        }
        const frame = this.#frames.get(`${p.name}/${state.user}`) as Buffer;
        for (; state.tokens >= 1; state.tokens--) {
          c.write(frame);
          p.framesSent++;
        }
      }
    }
  }

  #trickle(): void {
    for (const p of this.patterns) {
      for (const [c, state] of p.live) {
        if (c.status === 0 || state.trickled >= p.trickle.length) continue;
        c.write(p.trickle.charAt(state.trickled++));
      }
    }
  }

  /** Looks in the TCP table for connections the relay let go while their client was not reading. */
  #watch(): void {
    const table = tcpTable();
    for (const p of this.patterns) {
      if (p.mode === "always") continue;
      for (const c of p.live.keys()) observe(c, this.server.port, table);
    }
  }

  /** Keeps `den` busy: new big messages from both attackers, closed loop at `busyRate`. */
  async #sendBusy(): Promise<void> {
    const interval = 1000 / this.counts.busyRate;
    const clients = ATTACKERS.map((u) => ({
      u,
      api: api(() => this.server.url, this.#tokens.get(u) as string),
    }));
    for (let n = 0; n < 10_000_000 && this.#running; n++) {
      const t0 = Date.now();
      const { u, api: client } = clients[n % clients.length] as (typeof clients)[number];
      this.busySent++;
      const send = { clientMessageId: `busy-${n}`, body: bigBody() };
      if (await sendOverHttp(client, this.ledger, DEN, u, send, t0 + 60_000)) this.busyAcked++;
      await sleep(Math.max(0, interval - (Date.now() - t0)));
    }
  }
}

/** How one connection ended, in a few words (the keys of {@link PatternReport.outcomes}). */
function describe(c: RawClient, slowloris: boolean): string {
  if (c.hungUp) {
    if (c.status === 0) return c.mode === "never" ? "open at the end (never read)" : "no answer by the end";
    return c.status === 101 ? "open at the end" : `HTTP ${c.status}, open at the end`;
  }
  if (c.status === 0) return c.bytesRead === 0 ? "closed with no answer" : "closed mid-answer";
  if (slowloris) return `HTTP ${c.status}, then ${c.laterStatus ? `HTTP ${c.laterStatus} and ` : ""}closed`;
  if (c.status === 101) return c.closeCode !== null ? `closed ${c.closeCode}` : "cut without a close frame";
  return c.closeCode !== null ? `HTTP ${c.status}, close event ${c.closeCode}` : `HTTP ${c.status}`;
}
