/**
 * `npm run bench`: the relay against a minimal floor server (raw `ws` + `node:http`, no auth, no
 * storage) on the same harness, in one run, as ratios to the floor (the machine is shared and noisy,
 * so absolute numbers mean little). Servers run as child processes; this process is the load generator.
 *
 * Flags:
 *   --only fanout,http,memory,reactions,webhooks,presence   run some metrics only (default: all; reactions,
 *                               webhooks and presence are relay only: durable sends with no endpoint, one that is down, one
 *                               that answers; a reconnect storm of 500 clients in one room and in 50 rooms of 10)
 *   --side floor|relay|both     which servers to run (default: both; relay is skipped if bin/parley.ts is missing)
 *   --rounds N                  repeat each metric N times (floor and relay alternate) and report medians (default 3)
 *   --messages N                fan-out messages per measured phase (default 1500)
 *   --window N                  fan-out messages in flight, not yet delivered everywhere (default 64)
 *   --duration S                durable sends: measured seconds after a 1 s warm-up (default 5)
 *   --relay-env KEY=VALUE       extra env for the relay (repeatable), e.g. --relay-env PARLEY_DB_SYNC=normal
 *   --json                      also print the results as one JSON line at the end
 *   --strict                    exit 1 when a target is missed
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { type FanoutResult, runFanout } from "./harness/fanout.ts";
import { type HttpResult, runHttp } from "./harness/http-load.ts";
import { type MemoryResult, runMemory } from "./harness/memory.ts";
import { type PresenceStormResult, presenceStormRows, runPresenceStorm } from "./harness/presence-storm.ts";
import { type ReactionsResult, runReactions } from "./harness/reactions.ts";
import { median } from "./harness/stats.ts";
import { relayAvailable, type Side, startTarget, type Target } from "./harness/target.ts";
import { benchWebhookSecret, downUrl, startWebhookSink } from "./harness/webhook-sink.ts";

const { values: args } = parseArgs({
  options: {
    only: { type: "string", default: "fanout,http,memory,reactions,webhooks,presence" },
    side: { type: "string", default: "both" },
    rounds: { type: "string", default: "3" },
    messages: { type: "string", default: "1500" },
    window: { type: "string", default: "64" },
    duration: { type: "string", default: "5" },
    "relay-env": { type: "string", multiple: true, default: [] },
    json: { type: "boolean", default: false },
    strict: { type: "boolean", default: false },
  },
});

const METRICS = ["fanout", "http", "memory", "reactions", "webhooks", "presence"] as const;
type Metric = (typeof METRICS)[number];
const only = new Set((args.only ?? "").split(",").map((s) => s.trim()));
const metrics = METRICS.filter((m) => only.has(m));
const rounds = Math.max(1, Math.min(10, Number(args.rounds) || 3));
const MEMORY_SOCKETS = 2000;

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const relayExtraEnv: Record<string, string> = {};
for (const kv of args["relay-env"] ?? []) {
  const eq = kv.indexOf("=");
  if (eq <= 0) fail(`--relay-env wants KEY=VALUE, got "${kv}"`);
  relayExtraEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
}

if (metrics.length === 0) fail(`--only must name some of ${METRICS.join(", ")}`);

// File descriptors: every client socket is an fd in this process.
function openFileLimit(): number {
  const limits = readFileSync("/proc/self/limits", "utf8");
  const m = /Max open files\s+(\d+|unlimited)/.exec(limits);
  return !m?.[1] || m[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(m[1]);
}
const needFds = MEMORY_SOCKETS + 256;
const fdLimit = openFileLimit();
if (fdLimit < needFds) {
  fail(`open-file limit is ${fdLimit}, the memory metric needs ≥ ${needFds}: run \`ulimit -n 4096\` first`);
}

let sides: Side[] =
  args.side === "floor" ? ["floor"] : args.side === "relay" ? ["relay"] : ["floor", "relay"];
const relayMissing = !relayAvailable();
if (relayMissing) {
  if (args.side === "relay") fail("bin/parley.ts does not exist yet");
  sides = sides.filter((s) => s !== "relay");
}

const cpus = os.cpus();
const machine = {
  cpu: cpus[0]?.model.trim() ?? "unknown",
  cores: cpus.length,
  node: process.version,
  os: `${os.type()} ${os.release()}`,
  date: new Date().toISOString(),
  loadavg: os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" "),
};
console.log(`Parley bench — ${machine.date}`);
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}`);
console.log(`load average at start: ${machine.loadavg}; open-file limit: ${fdLimit}`);
console.log(`metrics: ${metrics.join(", ")}; sides: ${sides.join(", ")}; rounds: ${rounds}`);
const extra = Object.entries(relayExtraEnv).map(([k, v]) => `${k}=${v}`);
console.log(`relay env beyond the defaults: ${extra.length ? extra.join(" ") : "none"}\n`);

/** Durable sends with webhooks: without an endpoint, with one that is down, with one that answers. */
type WebhookVariant = "none" | "down" | "up";
const WEBHOOK_VARIANTS: readonly WebhookVariant[] = ["none", "down", "up"];

type Results = {
  fanout: FanoutResult[];
  http: HttpResult[];
  memory: MemoryResult[];
  reactions: ReactionsResult[];
  webhooks: Array<{ variant: WebhookVariant; result: HttpResult; delivered: number }>;
  presence: PresenceStormResult[];
};
const results: Record<Side, Results> = {
  floor: { fanout: [], http: [], memory: [], reactions: [], webhooks: [], presence: [] },
  relay: { fanout: [], http: [], memory: [], reactions: [], webhooks: [], presence: [] },
};
const errors: Record<Side, string[]> = { floor: [], relay: [] };

async function withTarget<T>(
  side: Side,
  fn: (t: Target) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T | undefined> {
  let target: Target | undefined;
  try {
    target = await startTarget(side, side === "relay" ? { ...relayExtraEnv, ...env } : {});
    return await fn(target);
  } catch (err) {
    const msg = (err as Error).message.split("\n").slice(0, 6).join("\n    ");
    errors[side].push(msg);
    console.log(`  ${side}: ERROR ${msg}`);
    return undefined;
  } finally {
    await target?.stop();
  }
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "—";

/** The durable-sends load: metric 2, and the webhooks metric's three variants. */
const HTTP_LOAD = {
  senders: 32,
  conversations: 8,
  warmupMs: 1000,
  durationMs: (Number(args.duration) || 5) * 1000,
  bodyBytes: 120,
};

async function runMetric(metric: Metric, side: Side, round: number): Promise<void> {
  const label = `[${metric} ${side}${rounds > 1 ? ` round ${round + 1}` : ""}]`;
  const t0 = performance.now();
  if (metric === "fanout") {
    const r = await withTarget(side, (t) =>
      runFanout(t, {
        subscribers: 200,
        messages: Number(args.messages) || 1500,
        warmup: 200,
        window: Number(args.window) || 64,
        bodyBytes: 120,
        timeoutMs: 40_000,
      }),
    );
    if (r) {
      results[side].fanout.push(r);
      console.log(
        `  ${label} ${fmt(r.deliveriesPerSec)} deliveries/s (${fmt(r.messagesPerSec)} msgs/s, ${fmt(r.elapsedMs)} ms; CPU server ${fmt(r.cpu.server)}%, bench ${fmt(r.cpu.client)}%)`,
      );
    }
  } else if (metric === "http") {
    const r = await withTarget(side, (t) => runHttp(t, HTTP_LOAD));
    if (r) {
      results[side].http.push(r);
      console.log(
        `  ${label} ${fmt(r.sendsPerSec)} sends/s, p50 ${fmt(r.latency.p50, 2)} ms, p99 ${fmt(r.latency.p99, 2)} ms, max ${fmt(r.latency.max, 1)} ms, ${r.latency.count} samples, ${r.errors} errors; CPU server ${fmt(r.cpu.server)}%, bench ${fmt(r.cpu.client)}%`,
      );
    }
  } else if (metric === "reactions") {
    // Relay only: the floor stores nothing and has no changes.
    if (side !== "relay") return;
    const r = await withTarget(side, (t) =>
      runReactions(t, { users: 32, warmupMs: 1000, durationMs: (Number(args.duration) || 5) * 1000 }),
    );
    if (r) {
      results[side].reactions.push(r);
      console.log(
        `  ${label} ${fmt(r.changesPerSec)} durable reactions/s on one message, p50 ${fmt(r.latency.p50, 2)} ms, p99 ${fmt(r.latency.p99, 2)} ms, ${r.errors} errors; CPU server ${fmt(r.cpu.server)}%, bench ${fmt(r.cpu.client)}%`,
      );
    }
  } else if (metric === "webhooks") {
    if (side !== "relay") return;
    // The three variants back to back, in a rotating order, so drift favours none of them.
    const order = WEBHOOK_VARIANTS.map(
      (_, i) => WEBHOOK_VARIANTS[(i + round) % WEBHOOK_VARIANTS.length] as WebhookVariant,
    );
    for (const variant of order) {
      const sink = variant === "up" ? await startWebhookSink() : undefined;
      const url = variant === "up" ? sink?.url : variant === "down" ? await downUrl() : undefined;
      const env: Record<string, string> = url
        ? { PARLEY_WEBHOOK_URL: url, PARLEY_WEBHOOK_SECRET: benchWebhookSecret() }
        : {};
      try {
        const r = await withTarget(side, (t) => runHttp(t, HTTP_LOAD), env);
        if (r) {
          results[side].webhooks.push({ variant, result: r, delivered: sink?.received ?? 0 });
          console.log(
            `  ${label} endpoint ${variant}: ${fmt(r.sendsPerSec)} sends/s, p50 ${fmt(r.latency.p50, 2)} ms, p99 ${fmt(r.latency.p99, 2)} ms, ${r.errors} errors${sink ? `, ${fmt(sink.received)} deliveries` : ""}; CPU server ${fmt(r.cpu.server)}%`,
          );
        }
      } finally {
        await sink?.close();
      }
    }
  } else if (metric === "presence") {
    if (side !== "relay") return;
    // One room of 500 and 50 rooms of 10, each on a fresh relay, in alternating order.
    for (const roomSize of round % 2 === 0 ? [500, 10] : [10, 500]) {
      const r = await withTarget(side, (t) =>
        runPresenceStorm(t, { clients: 500, roomSize, timeoutMs: 60_000 }),
      );
      if (r) results[side].presence.push(r);
      if (r)
        console.log(
          `  ${label} ${r.rooms} × ${r.roomSize}: all back in ${fmt(r.allMs)} ms (${fmt(r.perClientMs, 3)} ms/client, p50 ${fmt(r.back.p50)} ms, last synced at ${fmt(r.synced.max)} ms, ${r.notBack} not back); presence per client ≤ ${r.frames.max} frames, ${fmt(r.bytes.max)} bytes; CPU server ${fmt(r.cpu.server)}%`,
        );
    }
  } else {
    const r = await withTarget(side, (t) =>
      runMemory(t, { sockets: MEMORY_SOCKETS, conversations: 20, warmupSockets: 20 }),
    );
    if (r) {
      results[side].memory.push(r);
      console.log(
        `  ${label} ${fmt(r.bytesPerSocket / 1024, 1)} KiB/socket (RSS ${fmt(r.rssBeforeBytes / 2 ** 20, 1)} → ${fmt(r.rssAfterBytes / 2 ** 20, 1)} MiB)`,
      );
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  if (elapsed > 60) console.log(`  ${label} took ${elapsed.toFixed(0)} s`);
}

const started = performance.now();
for (const metric of metrics) {
  for (let round = 0; round < rounds; round++) {
    // Alternate which side goes first, so slow drift on a shared machine does not favour one side.
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) await runMetric(metric, side, round);
  }
}

// ---- the table ----
const med = (xs: number[]) => (xs.length ? median(xs) : Number.NaN);
const f = results.floor;
const r = results.relay;
const haveRelay = sides.includes("relay");
interface Row {
  metric: string;
  floor: string;
  relay: string;
  ratio: string;
  target: string;
  result: string;
}
const rows: Row[] = [];
let missed = false;
function verdict(ok: boolean | undefined): string {
  if (!haveRelay) return relayMissing ? "n/a (no relay)" : "n/a";
  if (ok === undefined) {
    missed = true;
    return "MISS (error)";
  }
  if (!ok) missed = true;
  return ok ? "PASS" : "MISS";
}
const ratioOf = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN;
const summary: Record<string, unknown> = { machine, rounds, relayEnv: relayExtraEnv };

if (metrics.includes("fanout")) {
  const fl = med(f.fanout.map((x) => x.deliveriesPerSec));
  const rl = med(r.fanout.map((x) => x.deliveriesPerSec));
  const ratio = ratioOf(rl, fl);
  rows.push({
    metric: "fan-out deliveries/s (200 sockets)",
    floor: fmt(fl),
    relay: fmt(rl),
    ratio: Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "—",
    target: "≥ 0.9×",
    result: verdict(Number.isFinite(ratio) ? ratio >= 0.9 : undefined),
  });
  summary.fanout = { floor: fl, relay: rl, ratio };
}
if (metrics.includes("http")) {
  const fl = med(f.http.map((x) => x.sendsPerSec));
  const rl = med(r.http.map((x) => x.sendsPerSec));
  const ratio = ratioOf(rl, fl);
  const fp50 = med(f.http.map((x) => x.latency.p50));
  const rp50 = med(r.http.map((x) => x.latency.p50));
  const fp99 = med(f.http.map((x) => x.latency.p99));
  const rp99 = med(r.http.map((x) => x.latency.p99));
  const relayErrors = r.http.reduce((a, x) => a + x.errors, 0);
  rows.push({
    metric: "durable HTTP sends/s (32 senders, 8 convs)",
    floor: fmt(fl),
    relay: fmt(rl),
    ratio: Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "—",
    target: "≥ 0.5×",
    result: verdict(Number.isFinite(ratio) ? ratio >= 0.5 && relayErrors === 0 : undefined),
  });
  rows.push({
    metric: "  send ack latency p50 (ms)",
    floor: fmt(fp50, 2),
    relay: fmt(rp50, 2),
    ratio: Number.isFinite(ratioOf(rp50, fp50)) ? `${ratioOf(rp50, fp50).toFixed(2)}×` : "—",
    target: "(info)",
    result: "",
  });
  rows.push({
    metric: "  send ack latency p99 (ms)",
    floor: fmt(fp99, 2),
    relay: fmt(rp99, 2),
    ratio: Number.isFinite(ratioOf(rp99, fp99)) ? `${ratioOf(rp99, fp99).toFixed(2)}×` : "—",
    target: "≤ 20 ms",
    result: verdict(Number.isFinite(rp99) ? rp99 <= 20 : undefined),
  });
  summary.http = {
    floor: { sendsPerSec: fl, p50: fp50, p99: fp99 },
    relay: { sendsPerSec: rl, p50: rp50, p99: rp99 },
    ratio,
  };
}
if (metrics.includes("memory")) {
  const fl = med(f.memory.map((x) => x.bytesPerSocket));
  const rl = med(r.memory.map((x) => x.bytesPerSocket));
  const ratio = ratioOf(rl, fl);
  rows.push({
    metric: "idle memory per socket (KiB, 2,000 sockets)",
    floor: fmt(fl / 1024, 1),
    relay: fmt(rl / 1024, 1),
    ratio: Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "—",
    target: "≤ 1.3×",
    result: verdict(Number.isFinite(ratio) ? ratio <= 1.3 : undefined),
  });
  summary.memory = { floor: fl, relay: rl, ratio };
}

if (metrics.includes("reactions") && haveRelay) {
  const rl = med(r.reactions.map((x) => x.changesPerSec));
  const sends = med(r.http.map((x) => x.sendsPerSec));
  const ratio = ratioOf(rl, sends);
  const p99 = med(r.reactions.map((x) => x.latency.p99));
  rows.push({
    metric: "durable reactions/s, one message, 32 users",
    floor: "—",
    relay: fmt(rl),
    ratio: Number.isFinite(ratio) ? `${ratio.toFixed(2)}× sends` : "— (no http)",
    target: "(info)",
    result: "",
  });
  rows.push({
    metric: "  reaction ack latency p99 (ms)",
    floor: "—",
    relay: fmt(p99, 2),
    ratio: "",
    target: "(info)",
    result: "",
  });
  summary.reactions = { relay: rl, p99, ratioToSends: ratio };
}

if (metrics.includes("webhooks") && haveRelay) {
  const of = (variant: WebhookVariant) =>
    r.webhooks.filter((x) => x.variant === variant).map((x) => x.result);
  const none = of("none");
  const base = med(none.map((x) => x.sendsPerSec));
  const baseP99 = med(none.map((x) => x.latency.p99));
  const entry: Record<string, unknown> = {};
  for (const variant of WEBHOOK_VARIANTS) {
    const xs = of(variant);
    const sends = med(xs.map((x) => x.sendsPerSec));
    const p99 = med(xs.map((x) => x.latency.p99));
    const label =
      variant === "none" ? "no endpoint" : variant === "down" ? "endpoint down" : "endpoint answering";
    rows.push({
      metric: `durable sends/s, ${label}`,
      floor: "—",
      relay: fmt(sends),
      ratio: variant === "none" ? "" : `${ratioOf(sends, base).toFixed(2)}× none`,
      target: variant === "none" ? "(info)" : "≥ 0.8× none",
      result:
        variant === "none" ? "" : verdict(Number.isFinite(sends) ? ratioOf(sends, base) >= 0.8 : undefined),
    });
    rows.push({
      metric: "  send ack latency p99 (ms)",
      floor: "—",
      relay: fmt(p99, 2),
      ratio: variant === "none" ? "" : `${ratioOf(p99, baseP99).toFixed(2)}× none`,
      target: "(info)",
      result: "",
    });
    entry[variant] = { sendsPerSec: sends, p99 };
  }
  summary.webhooks = entry;
}

if (metrics.includes("presence") && haveRelay) {
  const storm = presenceStormRows(r.presence, fmt, med);
  for (const row of storm.rows) rows.push({ ...row, floor: "—", result: "ok" in row ? verdict(row.ok) : "" });
  summary.presence = storm.summary;
}

const header: Row = {
  metric: "metric",
  floor: "floor",
  relay: "relay",
  ratio: "ratio",
  target: "target",
  result: "result",
};
const cols = Object.keys(header) as (keyof Row)[];
const width = Object.fromEntries(
  cols.map((c) => [c, Math.max(...[header, ...rows].map((row) => row[c].length))]),
) as Record<keyof Row, number>;
const line = (row: Row) =>
  cols.map((c, i) => (i === 0 ? row[c].padEnd(width[c]) : row[c].padStart(width[c]))).join("  ");
console.log("");
console.log(line(header));
console.log(cols.map((c) => "-".repeat(width[c])).join("  "));
for (const row of rows) console.log(line(row));

const notes: string[] = [];
for (const side of ["floor", "relay"] as const) {
  for (const e of errors[side]) notes.push(`${side}: ${e}`);
  for (const x of [
    ...results[side].fanout,
    ...results[side].http,
    ...results[side].memory,
    ...results[side].reactions,
    ...results[side].presence,
  ]) {
    for (const n of x.notes) notes.push(`${side}: ${n}`);
  }
  for (const [name, xs] of [
    ["fan-out", results[side].fanout],
    ["durable sends", results[side].http],
  ] as const) {
    const busiest = Math.max(...xs.map((x) => x.cpu.client).filter(Number.isFinite));
    if (busiest >= 90) {
      notes.push(
        `${side}: the bench process reached ${busiest.toFixed(0)}% CPU during ${name}: that number is bounded by the load generator, not only by the server`,
      );
    }
  }
}
if (relayMissing) notes.push("relay: bin/parley.ts does not exist yet; only the floor ran");
if (notes.length) {
  console.log("\nnotes:");
  for (const n of notes) console.log(`  - ${n}`);
}
console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (args.json) console.log(JSON.stringify({ ...summary, errors, notes }));
process.exit(args.strict && missed ? 1 : 0);
