/**
 * `npm run bench:storm`: a reconnect storm at 10,000 sockets (issue 17).
 *
 * The relay (`bin/parley.ts`, started as bench/harness/spawn.ts starts it, on a fresh temp
 * database) holds `--conversations` conversations of `--members` members; every member is its own
 * user with its own token and one socket. Each conversation is seeded with SEED messages and every
 * client connects and catches up to them (seq SEED). Then the relay is SIGKILLed and restarted on
 * the same port and data. Every client reconnects by itself, with bounded jittered backoff, resuming
 * with `after=<its last seq>`; as soon as the relay is back, one new message per conversation is
 * sent over HTTP (server key), so each client has one message it missed. A client is **back** when
 * it has `synced` and holds every message up to its conversation's final seq; each message's seq is
 * checked (no gap, no duplicate). Measured: from the restarted relay's `listening on` line until
 * all clients are back, p50/p99 of each client's time to back, connection attempts, and the relay's
 * RSS and CPU at the end.
 *
 * Against: the floor (`bench/floor-server.ts`) in the same run, twice, with the same client code and
 * concurrency: accepting the same number of fresh sockets at once (`ratio`), and then under the same
 * storm, SIGKILLed with them all open, restarted on its port and timed from its `listening on` line
 * until every client is back by the same backoff (`ratioRestart`: both sides' clocks then include
 * the clients' wait). The target for the ratio of the times is ≤ 2×.
 *
 * `--rounds` rounds (3; 1 with `--quick`), each with a fresh relay, database and floor; the side
 * that goes first alternates, and the report gives the rounds' medians (the ratios are the
 * medians'), as `npm run bench` does, with every round's numbers beside them.
 *
 * At most `--concurrency` handshakes are in flight at once (from the attempt until `synced` or a
 * failure), for both sides. Every loop is bounded: a client makes at most MAX_ATTEMPTS attempts,
 * the storm and the floor's connects each end after `--timeout` seconds, the setup (not measured)
 * after ten minutes at most.
 *
 * Flags: --conversations N (1000) · --members N (10) · --timeout S (120) · --concurrency N (500)
 *        --rounds N (3, at most 10) · --quick (100 × 10, one round: a smoke run) · --json (a JSON line at the end)
 *        --relay-env KEY=VALUE (repeatable: extra env for both relays, e.g. a profiler preload in
 *        NODE_OPTIONS; tsx SIGKILLs a relay that is busy when the SIGTERM comes, so such a preload
 *        should write as it goes, not only on exit)
 * Exit 1 when the run fails (gaps, duplicates, missing messages, clients not back in time).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { parleyDialect } from "./harness/dialect.ts";
import { flagChecks, parseFlags } from "./harness/flags.ts";
import { type Reply, request } from "./harness/http-load.ts";
import { MESSAGE, SYNCED } from "./harness/sockets.ts";
import { cpuMeter, cpuSeconds, rssBytes, type Server, startServer } from "./harness/spawn.ts";
import { type LatencySummary, median, summarize } from "./harness/stats.ts";
import { FLOOR_SCRIPT, RELAY_SCRIPT, relayEnv, startTarget } from "./harness/target.ts";
import { tokenMinter } from "./harness/tokens.ts";

const { values: args } = parseFlags("bench:storm", {
  options: {
    conversations: { type: "string" },
    members: { type: "string" },
    timeout: { type: "string", default: "120" },
    concurrency: { type: "string", default: "500" },
    rounds: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "relay-env": { type: "string", multiple: true, default: [] },
  },
});

const { fail, int } = flagChecks("bench:storm");
const quick = args.quick === true;
const CONVERSATIONS = int(args.conversations ?? (quick ? "100" : "1000"), "conversations", 1, 100_000);
const MEMBERS = int(args.members ?? "10", "members", 1, 1_000);
const TIMEOUT_MS = int(args.timeout, "timeout", 1, 3600) * 1000;
const CONCURRENCY = int(args.concurrency, "concurrency", 1, 100_000);
const CLIENTS = CONVERSATIONS * MEMBERS;
const ROUNDS = int(args.rounds ?? (quick ? "1" : "3"), "rounds", 1, 10);
/** Messages in each conversation before the kill. */
const SEED = 3;
/** Attempts per client over the whole run (setup and storm); its delays grow to BACKOFF_MAX_MS. */
const MAX_ATTEMPTS = 100;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 2000;
const HANDSHAKE_TIMEOUT_MS = 20_000;
/** HTTP requests of the setup and of the storm's new messages in flight at once. */
const HTTP_CONCURRENCY = 16;
/** The setup (every client connected and caught up before the kill) is not measured: a looser bound. */
const SETUP_TIMEOUT_MS = Math.max(TIMEOUT_MS, 600_000);
const PROGRESS_MS = 3000;
/** Only what the storm needs beyond relayEnv's raised rate limits: a slow accept is not a refusal. */
const RELAY_EXTRA_ENV: Record<string, string> = { PARLEY_HANDSHAKE_TIMEOUT_MS: "60000" };
/** `--relay-env KEY=VALUE`: for looking inside the relay (a profiler), printed; not part of the measurement. */
const userRelayEnv: Record<string, string> = {};
for (const kv of args["relay-env"] ?? []) {
  const eq = kv.indexOf("=");
  if (eq <= 0) fail(`--relay-env wants KEY=VALUE, got "${kv}"`);
  userRelayEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "—";
const log = (line: string) => console.log(line);

// ---- file descriptors ---------------------------------------------------------------------

// Every client socket is an fd in this process, and every accepted one an fd in the server; the
// limit is per process and both inherit this one.
function openFileLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync("/proc/self/limits", "utf8"));
  return !m?.[1] || m[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(m[1]);
}
const needFds = CLIENTS + 512;
const fdLimit = openFileLimit();
if (fdLimit < needFds)
  fail(
    `open-file limit is ${fdLimit}; ${CLIENTS} sockets need ≥ ${needFds} in this process and in the relay ` +
      `(~${2 * needFds} in all): run \`ulimit -n ${needFds}\` (or more) first`,
  );

// ---- clients ------------------------------------------------------------------------------

/** At most `limit` handshakes in flight: an attempt holds a slot until `synced` or its failure. */
class Gate {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  acquire(run: () => void): void {
    if (this.inFlight < this.limit) {
      this.inFlight++;
      run();
    } else this.waiting.push(run);
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight--;
  }
}

interface Client {
  conv: number;
  /** The socket URL without `after`. */
  url: string;
  lastSeq: number;
  synced: boolean;
  /** When it was back (performance.now()), NaN until then. */
  backAt: number;
  attempts: number;
  /** Failed attempts since its last `synced` (the backoff's exponent). */
  failures: number;
  gaps: number;
  duplicates: number;
  gaveUp: boolean;
  ws: WebSocket | null;
}

/**
 * Clients that resume like the SDK: on a close they reconnect after a jittered, growing delay with
 * `after=<last seq>`, up to MAX_ATTEMPTS in all. `want(conv)` is the seq a client must hold to be
 * back (undefined: not known yet); `recheck(conv)` is called when it becomes known.
 */
class Fleet {
  readonly clients: Client[];
  backCount = 0;
  errors = new Map<string, number>();
  private stopped = false;
  private readonly gate: Gate;
  private want: (conv: number) => number | undefined = () => undefined;
  private readonly byConv: number[][] = [];

  constructor(urls: Array<{ conv: number; url: string }>, concurrency: number) {
    this.gate = new Gate(concurrency);
    this.clients = urls.map(({ conv, url }) => ({
      conv,
      url,
      lastSeq: 0,
      synced: false,
      backAt: Number.NaN,
      attempts: 0,
      failures: 0,
      gaps: 0,
      duplicates: 0,
      gaveUp: false,
      ws: null,
    }));
    for (const [i, c] of this.clients.entries()) {
      let list = this.byConv[c.conv];
      if (!list) {
        list = [];
        this.byConv[c.conv] = list;
      }
      list.push(i);
    }
  }

  /** A new round: nobody is back until `want` says so. */
  round(want: (conv: number) => number | undefined): void {
    this.want = want;
    this.backCount = 0;
    for (const c of this.clients) c.backAt = Number.NaN;
    for (const [i, c] of this.clients.entries()) if (c.synced) this.check(i);
  }

  get syncedCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.synced) n++;
    return n;
  }

  get attempts(): number {
    return this.clients.reduce((n, c) => n + c.attempts, 0);
  }

  startAll(): void {
    for (let i = 0; i < this.clients.length; i++) this.connect(i);
  }

  /** The wanted seq of `conv` is known now: look at its clients. */
  recheck(conv: number): void {
    for (const i of this.byConv[conv] ?? []) this.check(i);
  }

  private check(i: number): void {
    const c = this.clients[i] as Client;
    if (!c.synced || !Number.isNaN(c.backAt)) return;
    const want = this.want(c.conv);
    if (want !== undefined && c.lastSeq >= want) {
      c.backAt = performance.now();
      this.backCount++;
    }
  }

  private error(what: string): void {
    this.errors.set(what, (this.errors.get(what) ?? 0) + 1);
  }

  private connect(i: number): void {
    const c = this.clients[i] as Client;
    if (this.stopped) return;
    if (c.attempts >= MAX_ATTEMPTS) {
      c.gaveUp = true;
      return;
    }
    this.gate.acquire(() => {
      if (this.stopped) {
        this.gate.release();
        return;
      }
      c.attempts++;
      let holding = true;
      const release = () => {
        if (holding) {
          holding = false;
          this.gate.release();
        }
      };
      const ws = new WebSocket(`${c.url}&after=${c.lastSeq}`, {
        skipUTF8Validation: true,
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      });
      c.ws = ws;
      ws.on("message", (data: Buffer) => {
        if (data.indexOf(MESSAGE) !== -1) {
          const seq = parleyDialect.seqOf(data);
          if (seq <= c.lastSeq) c.duplicates++;
          else {
            if (seq !== c.lastSeq + 1) c.gaps += seq - c.lastSeq - 1;
            c.lastSeq = seq;
          }
          this.check(i);
        } else if (!c.synced && data.indexOf(SYNCED) !== -1) {
          c.synced = true;
          c.failures = 0;
          release();
          this.check(i);
        }
        // Presence and anything else: not counted.
      });
      ws.on("unexpected-response", (_req, res) => {
        this.error(`handshake answered ${res.statusCode}`);
        ws.terminate();
      });
      ws.on("error", (err) => this.error((err as NodeJS.ErrnoException).code ?? err.message));
      ws.on("close", (code) => {
        release();
        if (ws !== c.ws) return;
        c.ws = null;
        if (c.synced) this.error(`closed ${code} after synced`);
        c.synced = false;
        if (this.stopped) return;
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** c.failures);
        c.failures++;
        setTimeout(() => this.connect(i), delay * (0.5 + Math.random() * 0.5));
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const open = this.clients.map((c) => c.ws).filter((ws): ws is WebSocket => ws !== null);
    const closed = open.map((ws) =>
      ws.readyState === WebSocket.CLOSED ? undefined : new Promise<void>((r) => ws.once("close", () => r())),
    );
    for (const ws of open) ws.terminate();
    await Promise.race([Promise.all(closed), sleep(5000)]);
  }
}

/** Resolve when `done()` or after `ms`; print `line()` every PROGRESS_MS meanwhile. */
async function waitFor(done: () => boolean, ms: number, line: () => string): Promise<boolean> {
  const start = performance.now();
  let lastReport = start;
  while (!done()) {
    const now = performance.now();
    if (now - start >= ms) return false;
    if (now - lastReport >= PROGRESS_MS) {
      lastReport = now;
      log(`  ${line()} (${fmt((now - start) / 1000, 0)} s)`);
    }
    await sleep(25);
  }
  return true;
}

// ---- HTTP ---------------------------------------------------------------------------------

/** Run `task(0..n-1)`, `HTTP_CONCURRENCY` at a time; a task that throws stops the rest. */
async function pool(n: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(HTTP_CONCURRENCY, n) }, worker));
}

/** A POST with the server key, tried again on failure (at most `tries` times; 500 ms apart). */
async function post(
  agent: http.Agent,
  url: URL,
  key: string,
  body: unknown,
  ok: number[],
  tries: number,
): Promise<Reply> {
  let reply: Reply = { status: 0, body: "" };
  for (let attempt = 1; attempt <= tries; attempt++) {
    reply = await request(agent, "POST", url, key, JSON.stringify(body), 20_000).catch((e: Error) => ({
      status: 0,
      body: e.message,
    }));
    if (ok.includes(reply.status)) return reply;
    await sleep(500);
  }
  throw new Error(`POST ${url.pathname}: ${reply.status} ${reply.body.slice(0, 200)}`);
}

// ---- one round ----------------------------------------------------------------------------

/** A round's relay side: the setup, the SIGKILL, the restart and the storm. */
interface RelaySide {
  setupMs: number;
  setupAttempts: number;
  /** From the restarted relay's `listening on` until every client was back (NaN: not all were). */
  stormMs: number;
  back: LatencySummary;
  notBack: number;
  gaveUp: number;
  /** Connection attempts from the kill to the end. */
  attempts: number;
  gaps: number;
  duplicates: number;
  /** Clients that ended below their conversation's final seq. */
  missing: number;
  restartMs: number;
  /** CPU from the relay's health check to the last client back: its seconds and % of one core, and this process's %. */
  relay: { rssMiB: number; cpuPct: number; cpuSeconds: number; benchCpuPct: number };
  errors: Record<string, number>;
}

/** A round's floor side: fresh connects, then the same kill and restart. */
interface FloorSide {
  /** The floor's CPU seconds and % over its fresh connects, and this process's %. */
  floorCpu: { cpuSeconds: number; cpuPct: number; benchCpuPct: number };
  floorMs: number;
  floorNotBack: number;
  floorAttempts: number;
  /** The floor under the same storm: SIGKILLed and restarted, its clients back from their backoff. */
  floorRestart: {
    ms: number;
    notBack: number;
    attempts: number;
    restartMs: number;
    cpuSeconds: number;
    cpuPct: number;
    benchCpuPct: number;
  };
}

interface Round extends RelaySide, FloorSide {
  /** 1-based. */
  round: number;
  floorFirst: boolean;
  /** This round's storm ÷ its floor's fresh connects. */
  ratio: number;
  /** This round's storm ÷ its floor's restart under the same storm. */
  ratioRestart: number;
}

/** What the relay and the floor are both given: the conversations and one token per client. */
interface Plan {
  convIds: string[];
  clients: Array<{ conv: number; token: string }>;
}

const notes: string[] = [];
/** A note of round `round` (0-based); prefixed with the round when there are several. */
const note = (round: number, text: string) => notes.push(ROUNDS > 1 ? `round ${round + 1}: ${text}` : text);

const secret = randomBytes(32).toString("hex");
const serverKey = `sk_bench_${randomBytes(16).toString("hex")}`;
const userOf = (c: number, k: number) => `storm-c${c}-u${k}`;
const convPath = (plan: Plan, conv: number) => encodeURIComponent(plan.convIds[conv] as string);

/** The plan's clients, one socket URL each (the same bytes for the relay and the floor), on `httpBase`. */
function fleetOf(plan: Plan, httpBase: string): Fleet {
  const wsBase = httpBase.replace(/^http/, "ws");
  return new Fleet(
    plan.clients.map((p) => ({
      conv: p.conv,
      url: `${wsBase}/parties/conversation/${convPath(plan, p.conv)}?token=${p.token}`,
    })),
    CONCURRENCY,
  );
}

/** The relay or the floor running now, and the clients connected to it: stopped by the final cleanup. */
let running: Server | undefined;
let fleet: Fleet | undefined;

/**
 * The relay side of round `round`: a fresh relay and database, every client connected and caught
 * up, then the SIGKILL, the restart on the same port and data, one new message per conversation,
 * and every client back.
 */
async function relaySide(plan: Plan, round: number): Promise<RelaySide> {
  const dir = mkdtempSync(join(os.tmpdir(), "parley-bench-storm-"));
  const env = {
    ...relayEnv(`file:${join(dir, "parley.db")}`, secret, serverKey),
    ...RELAY_EXTRA_ENV,
    ...userRelayEnv,
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  const sendAgent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  try {
    // -- setup: the relay, the conversations, their history, every client caught up --
    let relay = await startServer("relay", RELAY_SCRIPT, env, 60_000);
    running = relay;
    const port = relay.port;
    log(`[setup] relay pid ${relay.pid} on port ${port}, database ${dir}`);
    const base = relay.baseUrl;
    let created = 0;
    let t = performance.now();
    await pool(CONVERSATIONS, async (c) => {
      const members = Array.from({ length: MEMBERS }, (_, k) => userOf(c, k));
      const id = plan.convIds[c] as string;
      await post(agent, new URL(`${base}/v1/conversations`), serverKey, { id, title: id, members }, [201], 5);
      for (let s = 0; s < SEED; s++) {
        await post(
          agent,
          new URL(`${base}/v1/conversations/${convPath(plan, c)}/messages`),
          serverKey,
          { senderId: userOf(c, s % MEMBERS), clientMessageId: `seed-${s}`, body: `before the kill ${s}` },
          [201],
          5,
        );
      }
      created++;
      if (performance.now() - t >= PROGRESS_MS || created === CONVERSATIONS) {
        t = performance.now();
        log(`  created ${created}/${CONVERSATIONS} conversations with ${SEED} messages each`);
      }
    });
    log(`  connecting ${CLIENTS} clients`);
    const setupStart = performance.now();
    const clients = fleetOf(plan, base);
    fleet = clients;
    clients.round(() => SEED);
    clients.startAll();
    const setupOk = await waitFor(
      () => clients.backCount === CLIENTS,
      SETUP_TIMEOUT_MS,
      () => `connected ${clients.syncedCount}/${CLIENTS}, caught up ${clients.backCount}/${CLIENTS}`,
    );
    const setupMs = performance.now() - setupStart;
    if (!setupOk)
      throw new Error(
        `setup: only ${clients.backCount}/${CLIENTS} clients connected and caught up within ${SETUP_TIMEOUT_MS / 1000} s`,
      );
    const setupAttempts = clients.attempts;
    log(
      `  all ${CLIENTS} connected and at seq ${SEED} in ${fmt(setupMs / 1000, 1)} s (${setupAttempts} attempts)`,
    );
    await sleep(1000); // presence settles

    // -- the kill --
    const oldPid = relay.pid;
    const killedAt = performance.now();
    process.kill(oldPid, "SIGKILL");
    for (let i = 0; i < 200 && existsSync(`/proc/${oldPid}`); i++) await sleep(25);
    if (existsSync(`/proc/${oldPid}`)) throw new Error(`relay pid ${oldPid} still there 5 s after SIGKILL`);
    await relay.stop(); // its tsx parent has exited with it (or is stopped now)
    running = undefined;
    const stillUp = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
      () => true,
      () => false,
    );
    if (stillUp) throw new Error("the relay still answers after its SIGKILL (killed the wrong process?)");
    const final = new Map<number, number>();
    clients.round((conv) => final.get(conv));
    const attemptsBefore = clients.attempts;
    log(`[storm] relay SIGKILLed; restarting on port ${port} with the same database`);

    // -- the restart, and one new message per conversation right away --
    relay = await startServer("relay", RELAY_SCRIPT, { ...env, PORT: String(port) }, 60_000);
    running = relay;
    const t0 = relay.listeningAt;
    const restartMs = t0 - killedAt;
    const pid = relay.pid;
    const cpu0 = cpuSeconds(pid);
    const meter = cpuMeter(pid);
    log(
      `  relay pid ${pid} listening ${fmt(restartMs / 1000, 1)} s after the kill; ${clients.syncedCount} synced at its health check`,
    );
    const sendErrors: string[] = [];
    const sends = pool(CONVERSATIONS, async (c) => {
      try {
        const reply = await post(
          sendAgent,
          new URL(`${base}/v1/conversations/${convPath(plan, c)}/messages`),
          serverKey,
          { senderId: userOf(c, 0), clientMessageId: "after-restart", body: "sent after the restart" },
          [200, 201],
          20,
        );
        const seq = (JSON.parse(reply.body) as { message: { seq: number } }).message.seq;
        if (seq !== SEED + 1)
          sendErrors.push(`${plan.convIds[c]}: the new message got seq ${seq}, not ${SEED + 1}`);
        final.set(c, seq);
        clients.recheck(c);
      } catch (err) {
        sendErrors.push((err as Error).message);
      }
    });
    const stormOk = await waitFor(
      () => clients.backCount === CLIENTS,
      Math.max(1, TIMEOUT_MS - (performance.now() - t0)),
      () =>
        `back ${clients.backCount}/${CLIENTS}, synced ${clients.syncedCount}, new messages sent ${final.size}/${CONVERSATIONS}, ` +
        `attempts ${clients.attempts - attemptsBefore}, relay CPU ${fmt(((cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100)}%`,
    );
    const cpuUsed = cpuSeconds(pid) - cpu0;
    const stormCpu = meter();
    const rss = existsSync(`/proc/${pid}`) ? rssBytes(pid) : Number.NaN;
    await Promise.race([sends, sleep(5000)]);
    if (sendErrors.length > 0)
      note(
        round,
        `${sendErrors.length} new messages failed or were odd, first: ${sendErrors.slice(0, 3).join("; ")}`,
      );
    const stormClients = clients.clients;
    const backTimes = stormClients.filter((c) => !Number.isNaN(c.backAt)).map((c) => c.backAt - t0);
    const notBack = CLIENTS - backTimes.length;
    const gaps = stormClients.reduce((n, c) => n + c.gaps, 0);
    const duplicates = stormClients.reduce((n, c) => n + c.duplicates, 0);
    const missing = stormClients.filter((c) => c.lastSeq < (final.get(c.conv) ?? SEED + 1)).length;
    const gaveUp = stormClients.filter((c) => c.gaveUp).length;
    const attempts = clients.attempts - attemptsBefore;
    const errors = Object.fromEntries(clients.errors);
    if (!stormOk)
      note(
        round,
        `${notBack} of ${CLIENTS} clients not back within ${TIMEOUT_MS / 1000} s of the restart (${stormClients.filter((c) => c.synced).length} synced; ${gaveUp} gave up after ${MAX_ATTEMPTS} attempts)`,
      );
    if (gaps > 0) note(round, `${gaps} messages skipped (gaps)`);
    if (duplicates > 0) note(round, `${duplicates} messages received twice`);
    if (missing > 0) note(round, `${missing} clients ended below their conversation's final seq`);
    await clients.stop();
    fleet = undefined;
    await relay.stop();
    running = undefined;
    log(
      `  ${backTimes.length}/${CLIENTS} back ${fmt((Math.max(0, ...backTimes) || Number.NaN) / 1000, 2)} s after the restart; ` +
        `${attempts} connection attempts since the kill; relay ${fmt(cpuUsed, 1)} CPU s, RSS ${fmt(rss / 2 ** 20)} MiB`,
    );
    return {
      setupMs,
      setupAttempts,
      stormMs: stormOk && notBack === 0 ? Math.max(...backTimes) : Number.NaN,
      back: summarize(backTimes),
      notBack,
      gaveUp,
      attempts,
      gaps,
      duplicates,
      missing,
      restartMs,
      relay: {
        rssMiB: rss / 2 ** 20,
        cpuPct: stormCpu.server,
        cpuSeconds: cpuUsed,
        benchCpuPct: stormCpu.client,
      },
      errors,
    };
  } catch (err) {
    if (running) notes.push(`relay output tail:\n${running.tail().slice(-1500)}`);
    throw err;
  } finally {
    if (fleet) await fleet.stop();
    fleet = undefined;
    if (running) await running.stop();
    running = undefined;
    agent.destroy();
    sendAgent.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The floor side of round `round`: the same number of fresh sockets, opened the same way; then,
 * with them all open, the floor SIGKILLed and restarted on its port, and the same clients back by
 * the same backoff, timed from its `listening on` line.
 */
async function floorSide(plan: Plan, round: number): Promise<FloorSide> {
  log(`[floor] ${CLIENTS} fresh sockets to the floor, ${CONCURRENCY} handshakes in flight at most`);
  let floorServer: Server = (await startTarget("floor")).server;
  running = floorServer;
  let floorMs = Number.NaN;
  let floorNotBack = CLIENTS;
  let floorAttempts = 0;
  let floorCpu = { cpuSeconds: Number.NaN, cpuPct: Number.NaN, benchCpuPct: Number.NaN };
  const floorRestart = {
    ms: Number.NaN,
    notBack: CLIENTS,
    attempts: 0,
    restartMs: Number.NaN,
    cpuSeconds: Number.NaN,
    cpuPct: Number.NaN,
    benchCpuPct: Number.NaN,
  };
  try {
    const floorFleet = fleetOf(plan, floorServer.baseUrl);
    fleet = floorFleet;
    for (const c of floorFleet.clients) c.lastSeq = SEED; // the same URL bytes: `after=SEED`
    floorFleet.round(() => SEED);
    const floorCpu0 = cpuSeconds(floorServer.pid);
    const floorMeter = cpuMeter(floorServer.pid);
    const f0 = performance.now();
    floorFleet.startAll();
    const floorOk = await waitFor(
      () => floorFleet.backCount === CLIENTS,
      TIMEOUT_MS,
      () => `floor: connected ${floorFleet.backCount}/${CLIENTS}`,
    );
    floorNotBack = CLIENTS - floorFleet.backCount;
    if (floorOk) floorMs = Math.max(...floorFleet.clients.map((c) => c.backAt)) - f0;
    else note(round, `floor: ${floorNotBack} of ${CLIENTS} sockets not open within ${TIMEOUT_MS / 1000} s`);
    const fc = floorMeter();
    floorCpu = {
      cpuSeconds: cpuSeconds(floorServer.pid) - floorCpu0,
      cpuPct: fc.server,
      benchCpuPct: fc.client,
    };
    floorAttempts = floorFleet.attempts;
    log(
      `  floor: ${CLIENTS - floorNotBack}/${CLIENTS} open in ${fmt(floorMs / 1000, 2)} s (${floorAttempts} attempts)`,
    );

    // -- the floor under the same storm: SIGKILLed with every client open, restarted on the same
    // port; the clients come back by the same backoff, and the clock starts at the same line --
    if (floorOk) {
      await sleep(1000); // as the relay's clients did before its kill
      const floorPid = floorServer.pid;
      const floorKilledAt = performance.now();
      process.kill(floorPid, "SIGKILL");
      for (let i = 0; i < 200 && existsSync(`/proc/${floorPid}`); i++) await sleep(25);
      await floorServer.stop();
      // Every client has seen its close before the round starts (none counts as back from before).
      await waitFor(
        () => floorFleet.syncedCount === 0,
        10_000,
        () => `floor: ${floorFleet.syncedCount} still open`,
      );
      floorFleet.round(() => SEED);
      const attemptsBefore = floorFleet.attempts;
      log(`[floor] SIGKILLed; restarting on port ${floorServer.port}`);
      floorServer = await startServer("floor", FLOOR_SCRIPT, {
        PORT: String(floorServer.port),
        HOST: "127.0.0.1",
      });
      running = floorServer;
      const r0 = floorServer.listeningAt;
      const restartCpu0 = cpuSeconds(floorServer.pid);
      const restartMeter = cpuMeter(floorServer.pid);
      const restartOk = await waitFor(
        () => floorFleet.backCount === CLIENTS,
        Math.max(1, TIMEOUT_MS - (performance.now() - r0)),
        () => `floor: back ${floorFleet.backCount}/${CLIENTS}`,
      );
      const rc = restartMeter();
      floorRestart.notBack = CLIENTS - floorFleet.backCount;
      if (restartOk) floorRestart.ms = Math.max(...floorFleet.clients.map((c) => c.backAt)) - r0;
      else
        note(
          round,
          `floor restart: ${floorRestart.notBack} of ${CLIENTS} sockets not back within ${TIMEOUT_MS / 1000} s`,
        );
      floorRestart.attempts = floorFleet.attempts - attemptsBefore;
      floorRestart.restartMs = r0 - floorKilledAt;
      floorRestart.cpuSeconds = cpuSeconds(floorServer.pid) - restartCpu0;
      floorRestart.cpuPct = rc.server;
      floorRestart.benchCpuPct = rc.client;
      log(
        `  floor: ${CLIENTS - floorRestart.notBack}/${CLIENTS} back ${fmt(floorRestart.ms / 1000, 2)} s after its restart ` +
          `(listening ${fmt(floorRestart.restartMs / 1000, 1)} s after the kill; ${floorRestart.attempts} attempts since the kill)`,
      );
    }
    await floorFleet.stop();
    fleet = undefined;
  } finally {
    if (fleet) await fleet.stop();
    fleet = undefined;
    await floorServer.stop();
    running = undefined;
  }
  return { floorCpu, floorMs, floorNotBack, floorAttempts, floorRestart };
}

// ---- the run ------------------------------------------------------------------------------

const cpus = os.cpus();
const loadAtStart = os.loadavg();
log(`Parley reconnect storm — ${new Date().toISOString()}`);
log(
  `machine: ${cpus[0]?.model.trim() ?? "unknown"}, ${cpus.length} cores, Node ${process.version}; load average ${loadAtStart
    .map((l) => l.toFixed(2))
    .join(" ")}; open-file limit ${fdLimit}`,
);
log(
  `${CONVERSATIONS} conversations × ${MEMBERS} members = ${CLIENTS} sockets (one user and token each); ` +
    `${SEED} messages each before the kill, 1 after the restart; ${CONCURRENCY} handshakes in flight at most; ` +
    `timeout ${TIMEOUT_MS / 1000} s; ${ROUNDS} round${ROUNDS > 1 ? "s (the side that goes first alternates; medians reported)" : ""}`,
);
log(
  `relay env beyond the bench's raised rate limits: ${Object.entries({ ...RELAY_EXTRA_ENV, ...userRelayEnv })
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")}`,
);

const started = performance.now();
const rounds: Round[] = [];
let fatal: string | undefined;
try {
  const stamp = Date.now().toString(36);
  const mint = tokenMinter(secret);
  const plan: Plan = {
    convIds: Array.from({ length: CONVERSATIONS }, (_, c) => `storm-${stamp}-${c}`),
    clients: [],
  };
  for (let c = 0; c < CONVERSATIONS; c++)
    for (let k = 0; k < MEMBERS; k++) plan.clients.push({ conv: c, token: await mint(userOf(c, k)) });
  log(`${CLIENTS} tokens minted`);
  for (let round = 0; round < ROUNDS; round++) {
    // Odd rounds start with the floor, so neither side always runs on the fresher machine.
    const floorFirst = round % 2 === 1;
    if (ROUNDS > 1)
      log(`\n[round ${round + 1}/${ROUNDS}] ${floorFirst ? "the floor first" : "the relay first"}`);
    const floor = floorFirst ? await floorSide(plan, round) : undefined;
    const relay = await relaySide(plan, round);
    const floorAfter = floor ?? (await floorSide(plan, round));
    rounds.push({
      round: round + 1,
      floorFirst,
      ...relay,
      ...floorAfter,
      ratio: relay.stormMs / floorAfter.floorMs,
      ratioRestart: relay.stormMs / floorAfter.floorRestart.ms,
    });
  }
} catch (err) {
  fatal = (err as Error).message;
} finally {
  if (fleet) await fleet.stop();
  if (running) await running.stop();
}

// ---- report -------------------------------------------------------------------------------

if (rounds.length < ROUNDS) {
  log(`\nERROR ${fatal ?? "the run did not finish"}`);
  for (const n of notes) log(`  ${n}`);
  if (args.json) log(JSON.stringify({ ok: false, error: fatal, notes, perRound: rounds }));
  process.exit(1);
}

/** The median of the rounds' values; NaN when a round has none (a side that did not finish). */
const med = (pick: (r: Round) => number) => {
  const values = rounds.map(pick);
  return values.some((v) => Number.isNaN(v)) ? Number.NaN : median(values);
};
const sum = (pick: (r: Round) => number) => rounds.reduce((n, r) => n + pick(r), 0);
const errors: Record<string, number> = {};
for (const r of rounds)
  for (const [kind, n] of Object.entries(r.errors)) errors[kind] = (errors[kind] ?? 0) + n;

// Times, CPU and RSS are the rounds' medians; the ratios are the medians' (as `npm run bench`
// reports its metrics); gaps, duplicates, missing and clients not back are summed over the rounds.
const stormMs = med((r) => r.stormMs);
const floorMs = med((r) => r.floorMs);
const floorRestartMs = med((r) => r.floorRestart.ms);
const r = {
  conversations: CONVERSATIONS,
  members: MEMBERS,
  clients: CLIENTS,
  concurrency: CONCURRENCY,
  rounds: ROUNDS,
  setupMs: med((x) => x.setupMs),
  stormMs,
  back: {
    count: Math.min(...rounds.map((x) => x.back.count)),
    p50: med((x) => x.back.p50),
    p99: med((x) => x.back.p99),
    max: med((x) => x.back.max),
  },
  notBack: sum((x) => x.notBack),
  gaveUp: sum((x) => x.gaveUp),
  attempts: med((x) => x.attempts),
  setupAttempts: med((x) => x.setupAttempts),
  gaps: sum((x) => x.gaps),
  duplicates: sum((x) => x.duplicates),
  missing: sum((x) => x.missing),
  restartMs: med((x) => x.restartMs),
  relay: {
    rssMiB: med((x) => x.relay.rssMiB),
    cpuPct: med((x) => x.relay.cpuPct),
    cpuSeconds: med((x) => x.relay.cpuSeconds),
    benchCpuPct: med((x) => x.relay.benchCpuPct),
  },
  floorCpu: {
    cpuSeconds: med((x) => x.floorCpu.cpuSeconds),
    cpuPct: med((x) => x.floorCpu.cpuPct),
    benchCpuPct: med((x) => x.floorCpu.benchCpuPct),
  },
  floorMs,
  floorNotBack: sum((x) => x.floorNotBack),
  floorAttempts: med((x) => x.floorAttempts),
  floorRestart: {
    ms: floorRestartMs,
    notBack: sum((x) => x.floorRestart.notBack),
    attempts: med((x) => x.floorRestart.attempts),
    restartMs: med((x) => x.floorRestart.restartMs),
    cpuSeconds: med((x) => x.floorRestart.cpuSeconds),
    cpuPct: med((x) => x.floorRestart.cpuPct),
    benchCpuPct: med((x) => x.floorRestart.benchCpuPct),
  },
  ratio: stormMs / floorMs,
  ratioRestart: stormMs / floorRestartMs,
  target: 2,
  errors,
  notes,
  loadavg: os.loadavg(),
  perRound: rounds,
};
const ok =
  r.notBack === 0 &&
  r.gaps === 0 &&
  r.duplicates === 0 &&
  r.missing === 0 &&
  r.floorNotBack === 0 &&
  r.floorRestart.notBack === 0 &&
  Number.isFinite(r.stormMs);
const verdict = (ratio: number) =>
  `${Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "—"} / ≤ ${r.target}× ${Number.isFinite(ratio) ? (ratio <= r.target ? "ok" : "MISSED") : ""}`;
if (ROUNDS > 1) {
  log(
    "\nrounds (relay back after its restart · the floor's fresh connects · the floor back after its restart):",
  );
  for (const x of rounds)
    log(
      `  ${x.round} (${x.floorFirst ? "floor first" : "relay first"}): ${fmt(x.stormMs / 1000, 2)} s · ${fmt(x.floorMs / 1000, 2)} s · ` +
        `${fmt(x.floorRestart.ms / 1000, 2)} s; ratio ${x.ratio.toFixed(2)}× fresh, ${x.ratioRestart.toFixed(2)}× restart; ` +
        `relay ${fmt((x.relay.cpuSeconds / CLIENTS) * 1000, 2)} CPU s per 1,000 sockets`,
    );
}
const of = ROUNDS > 1 ? ` (median of ${ROUNDS})` : "";
const rows: Array<[string, string, string, string]> = [
  ["metric", "relay", "floor", "ratio / target"],
  [
    `all ${CLIENTS} back after the restart (s)${of}`,
    fmt(r.stormMs / 1000, 2),
    fmt(r.floorRestart.ms / 1000, 2),
    verdict(r.ratioRestart),
  ],
  [
    `the floor's ${CLIENTS} fresh connects, no restart (s)${of}`,
    "",
    fmt(r.floorMs / 1000, 2),
    verdict(r.ratio),
  ],
  ["per client to back, p50 / p99 (ms)", `${fmt(r.back.p50)} / ${fmt(r.back.p99)}`, "", ""],
  [
    "connection attempts (storm; floor restart / fresh)",
    fmt(r.attempts),
    `${fmt(r.floorRestart.attempts)} / ${fmt(r.floorAttempts)}`,
    "",
  ],
  [
    `gaps / duplicates / missing / not back${ROUNDS > 1 ? ", all rounds" : ""}`,
    `${r.gaps} / ${r.duplicates} / ${r.missing} / ${r.notBack}`,
    "",
    "all 0",
  ],
  [
    "relay at the end: RSS (MiB), CPU (% of a core)",
    `${fmt(r.relay.rssMiB)}, ${fmt(r.relay.cpuPct)}`,
    "",
    "",
  ],
  [
    "server CPU s per 1,000 sockets (floor: restart / fresh)",
    fmt((r.relay.cpuSeconds / CLIENTS) * 1000, 2),
    `${fmt((r.floorRestart.cpuSeconds / CLIENTS) * 1000, 2)} / ${fmt((r.floorCpu.cpuSeconds / CLIENTS) * 1000, 2)}`,
    `${(r.relay.cpuSeconds / r.floorCpu.cpuSeconds).toFixed(2)}× fresh (info)`,
  ],
  [
    "bench process CPU (% of a core; floor: restart / fresh)",
    fmt(r.relay.benchCpuPct),
    `${fmt(r.floorRestart.benchCpuPct)} / ${fmt(r.floorCpu.benchCpuPct)}`,
    "",
  ],
];
const widths = [0, 1, 2, 3].map((col) => Math.max(...rows.map((row) => row[col]?.length ?? 0)));
log("");
for (const row of rows) log(`  ${row.map((cell, col) => cell.padEnd(widths[col] ?? 0)).join("  ")}`);
log(
  `\nrelay restarted ${fmt(r.restartMs / 1000, 1)} s after the kill, the floor ${fmt(r.floorRestart.restartMs / 1000, 1)} s; setup connect ${fmt(r.setupMs / 1000, 1)} s; ` +
    `relay ${fmt(r.relay.cpuSeconds, 1)} CPU s from listening to the last client back; load average ${r.loadavg.map((l) => l.toFixed(2)).join(" ")}`,
);
const errorKinds = Object.entries(r.errors);
if (errorKinds.length > 0)
  log(
    `socket errors (by kind${ROUNDS > 1 ? ", all rounds" : ""}): ${errorKinds.map(([k, n]) => `${k} ×${n}`).join(", ")}`,
  );
for (const n of r.notes) log(`NOTE ${n}`);
log(`${ok ? "PASS" : "FAIL"}; total ${fmt((performance.now() - started) / 1000, 0)} s`);
if (args.json) log(JSON.stringify({ ok, ...r }));
process.exit(ok ? 0 : 1);
