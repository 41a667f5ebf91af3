/**
 * `npm run bench`: the relay against a minimal floor server (raw `ws` + `node:http`, no auth, no
 * storage) and against the peers a user might pick instead (bench/peers/: Socket.IO 4.8 with
 * connection state recovery, and a naive durable Hono + libSQL service), on the same harness, in one
 * run, as ratios (the machine is shared and noisy, so absolute numbers mean little). Servers run as
 * child processes; this process is the load generator.
 *
 * Flags:
 *   --only fanout,http,memory,socket,reactions,webhooks,presence   run some metrics only (default: these
 *                               seven, or all nine with --quick; reactions, webhooks and presence are relay
 *                               only: durable sends with no endpoint, one that is down, one that answers; a
 *                               reconnect storm of 500 clients in one room and in 50 rooms of 10)
 *   --only bigroom,manyrooms    the two at scale, not in the default list (minutes each): one room of 5,000
 *                               sockets against the floor; 2,000 rooms of 3 sockets with durable sends spread
 *                               over them (relay and naive peer), against the same load in 8 rooms. They need
 *                               ~6,300 open files (checked first; `ulimit -n 8192`)
 *   --side floor,relay,socketio,naive|both|all   which servers to run (default: all; both = floor and
 *                               relay; relay is skipped if bin/parley.ts is missing). Socket.IO runs
 *                               fanout, memory and socket; the naive peer runs http and manyrooms.
 *   --rounds N                  repeat each metric N times (the sides rotate) and report medians (default 3)
 *   --quick                     every metric once (the nine), small, one server per side: a smoke run (under a minute)
 *   --messages N                fan-out messages per measured phase (default 1500)
 *   --window N                  fan-out messages in flight, not yet delivered everywhere (default 64)
 *   --duration S                durable sends: measured seconds after a 1 s warm-up (default 5)
 *   --rooms N, --per-room N     manyrooms' size (default 2,000 rooms of 3 sockets; 8–20,000 rooms):
 *                               to take its cost apart, e.g. 2,000 rooms of 1 (one delivery per send). Its
 *                               base is always 8 rooms of the same sockets. Only the default size is judged
 *                               against the target; other sizes print as information
 *   --relay-env KEY=VALUE       extra env for the relay (repeatable), e.g. --relay-env PARLEY_DB_SYNC=normal
 *   --json                      also print the results as one JSON line at the end
 *   --strict                    exit 1 when a target is missed
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { type FanoutResult, runFanout } from "./harness/fanout.ts";
import { flagChecks, parseFlags } from "./harness/flags.ts";
import { type HttpResult, runHttp } from "./harness/http-load.ts";
import { type ManyRoomsResult, runManyRooms } from "./harness/many-rooms.ts";
import { type MemoryResult, runMemory } from "./harness/memory.ts";
import { type PresenceStormResult, presenceStormRows, runPresenceStorm } from "./harness/presence-storm.ts";
import { type ReactionsResult, runReactions } from "./harness/reactions.ts";
import { runSocketSends, type SocketSendsResult } from "./harness/socket-sends.ts";
import { median } from "./harness/stats.ts";
import { relayAvailable, SIDE_NAMES, type Side, startTarget, type Target } from "./harness/target.ts";
import { runHttpWithDeliveries, type WholeRun } from "./harness/webhook-run.ts";
import { benchWebhookSecret, downUrl, startWebhookSink, type WebhookSink } from "./harness/webhook-sink.ts";

const { values: args } = parseFlags("bench", {
  options: {
    only: { type: "string" },
    side: { type: "string", default: "all" },
    quick: { type: "boolean", default: false },
    rounds: { type: "string", default: "3" },
    messages: { type: "string", default: "1500" },
    window: { type: "string", default: "64" },
    duration: { type: "string", default: "5" },
    rooms: { type: "string", default: "2000" },
    "per-room": { type: "string", default: "3" },
    "relay-env": { type: "string", multiple: true, default: [] },
    json: { type: "boolean", default: false },
    strict: { type: "boolean", default: false },
  },
});

const { fail, int } = flagChecks("bench");

const METRICS = [
  "fanout",
  "http",
  "memory",
  "socket",
  "reactions",
  "webhooks",
  "presence",
  "bigroom",
  "manyrooms",
] as const;
type Metric = (typeof METRICS)[number];
const quick = args.quick ?? false;
/** The full run leaves out the two at scale (minutes each); `--quick` runs all nine, small. */
const DEFAULT_ONLY = quick ? METRICS : METRICS.filter((m) => m !== "bigroom" && m !== "manyrooms");
const only = new Set((args.only ?? DEFAULT_ONLY.join(",")).split(",").map((s) => s.trim()));
const metrics = METRICS.filter((m) => only.has(m));
const rounds = quick ? 1 : Math.max(1, Math.min(10, Number(args.rounds) || 3));
/** Which sides run which metric: the peers only where they have a counterpart. */
const SUPPORTS: Record<Side, readonly Metric[]> = {
  floor: ["fanout", "http", "memory", "socket", "bigroom"],
  relay: METRICS,
  socketio: ["fanout", "memory", "socket"],
  naive: ["http", "manyrooms"],
};
const ALL_SIDES: readonly Side[] = ["floor", "relay", "socketio", "naive"];

/** Sizes: the full run's, or `--quick`'s (every metric once, small, in under a minute). */
// Quick measures 1 s after the warm-up: a smoke run's numbers only have to be there (issue 17).
const durationMs = quick ? 1000 : (Number(args.duration) || 5) * 1000;
const SIZES = {
  fanout: quick
    ? { subscribers: 50, messages: 200, warmup: 50 }
    : { subscribers: 200, messages: Number(args.messages) || 1500, warmup: 200 },
  memory: quick
    ? { sockets: 200, conversations: 4, warmupSockets: 200, pauseMs: 200, rssSamples: 3 }
    : { sockets: 2000, conversations: 20, warmupSockets: 2000 },
  warmupMs: quick ? 500 : 1000,
  reactionUsers: quick ? 8 : 32,
  /** The reconnect storm: clients in all, and the big room's size against rooms of `smallRoom`. */
  presence: quick ? { clients: 60, smallRoom: 6 } : { clients: 500, smallRoom: 10 },
  /** One room of many sockets: fan-out with a small window, per-message full-delivery time. */
  bigroom: quick
    ? { subscribers: 100, messages: 30, warmup: 10, window: 8, timeoutMs: 40_000 }
    : { subscribers: 5000, messages: 200, warmup: 20, window: 8, timeoutMs: 180_000 },
  /** Many rooms (default 2,000) of a few sockets (default 3), durable sends spread over them by 32 senders. */
  manyrooms: quick
    ? { rooms: 50, perRoom: 3, warmupRooms: 2, rssSamples: 2, pauseMs: 100 }
    : {
        rooms: int(args.rooms, "rooms", 8, 20_000),
        perRoom: int(args["per-room"], "per-room", 1, 10),
        warmupRooms: 20,
      },
};

const relayExtraEnv: Record<string, string> = {};
for (const kv of args["relay-env"] ?? []) {
  const eq = kv.indexOf("=");
  if (eq <= 0) fail(`--relay-env wants KEY=VALUE, got "${kv}"`);
  relayExtraEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
}

if (metrics.length === 0) fail(`--only must name some of ${METRICS.join(", ")}`);

// File descriptors: every client socket is an fd in this process (and one in the server, which
// inherits this process's limit).
function openFileLimit(): { soft: number; hard: number } {
  const limits = readFileSync("/proc/self/limits", "utf8");
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(limits);
  const num = (x: string | undefined) => (!x || x === "unlimited" ? Number.POSITIVE_INFINITY : Number(x));
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}
/** The sockets each metric holds open at once. */
const SOCKETS_OF: Record<Metric, number> = {
  fanout: SIZES.fanout.subscribers,
  http: 64,
  memory: SIZES.memory.sockets,
  socket: 32,
  reactions: 64,
  webhooks: 64,
  presence: SIZES.presence.clients,
  bigroom: SIZES.bigroom.subscribers,
  manyrooms: (SIZES.manyrooms.rooms + SIZES.manyrooms.warmupRooms) * SIZES.manyrooms.perRoom,
};
const fdMetric = metrics.reduce((a, m) => (SOCKETS_OF[m] > SOCKETS_OF[a] ? m : a));
const needFds = SOCKETS_OF[fdMetric] + 256;
const fdLimit = openFileLimit();
if (fdLimit.soft < needFds) {
  // Node raises its soft limit to the hard one when it starts, so this is the hard limit.
  fail(
    `open-file limit is ${fdLimit.soft} (hard ${fdLimit.hard}), the ${fdMetric} metric needs ≥ ${needFds}: run \`ulimit -n ${Math.max(needFds, 8192)}\` first (raising the hard limit needs root or /etc/security/limits.conf)`,
  );
}

const sideArg = args.side ?? "all";
let sides: Side[] =
  sideArg === "all"
    ? [...ALL_SIDES]
    : sideArg === "both"
      ? ["floor", "relay"]
      : ALL_SIDES.filter((s) => sideArg.split(",").includes(s));
if (sides.length === 0) fail(`--side must name some of ${ALL_SIDES.join(", ")} (or both, all)`);
const relayMissing = !relayAvailable();
if (relayMissing) {
  if (sideArg === "relay") fail("bin/parley.ts does not exist yet");
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
console.log(`load average at start: ${machine.loadavg}; open-file limit: ${fdLimit.soft}`);
console.log(
  `metrics: ${metrics.join(", ")}; sides: ${sides.join(", ")}; rounds: ${rounds}${quick ? " (quick: small sizes, one server per side)" : ""}`,
);
const extra = Object.entries(relayExtraEnv).map(([k, v]) => `${k}=${v}`);
console.log(`relay env beyond the defaults: ${extra.length ? extra.join(" ") : "none"}\n`);

/** Durable sends with webhooks: without an endpoint, with one that is down, with one that answers. */
type WebhookVariant = "none" | "down" | "up";
const WEBHOOK_VARIANTS: readonly WebhookVariant[] = ["none", "down", "up"];

type Results = {
  fanout: FanoutResult[];
  http: HttpResult[];
  memory: MemoryResult[];
  socket: SocketSendsResult[];
  reactions: ReactionsResult[];
  webhooks: Array<{
    variant: WebhookVariant;
    result: HttpResult;
    delivered: number;
    whole?: WholeRun | undefined;
  }>;
  presence: PresenceStormResult[];
  bigroom: FanoutResult[];
  manyrooms: ManyRoomsResult[];
  /** The same load in 8 rooms (its sockets per room, its senders): metric 9's base. */
  manyroomsBase: ManyRoomsResult[];
};
const emptyResults = (): Results => ({
  fanout: [],
  http: [],
  memory: [],
  socket: [],
  reactions: [],
  webhooks: [],
  presence: [],
  bigroom: [],
  manyrooms: [],
  manyroomsBase: [],
});
const results: Record<Side, Results> = {
  floor: emptyResults(),
  relay: emptyResults(),
  socketio: emptyResults(),
  naive: emptyResults(),
};
const errors: Record<Side, string[]> = { floor: [], relay: [], socketio: [], naive: [] };

/** A side's server env: the relay's extra env, and the same durability for the naive peer. */
function envOf(side: Side, env: Record<string, string>): Record<string, string> {
  const sync = relayExtraEnv.PARLEY_DB_SYNC;
  if (side === "relay") return { ...relayExtraEnv, ...env };
  return side === "naive" && sync !== undefined ? { PARLEY_DB_SYNC: sync } : {};
}

/** A webhooks variant's relay env, and the endpoint that answers (for "up"). */
type WebhookSetup = { env: Record<string, string>; sink?: WebhookSink };
const webhookSetups = new Map<WebhookVariant, Promise<WebhookSetup>>();
/** Fresh for every run of the full bench; made once and kept with `--quick` (one relay each). */
function webhookSetup(variant: WebhookVariant): Promise<WebhookSetup> {
  const made = webhookSetups.get(variant);
  if (made) return made;
  const make = async (): Promise<WebhookSetup> => {
    const sink = variant === "up" ? await startWebhookSink() : undefined;
    const url = variant === "up" ? sink?.url : variant === "down" ? await downUrl() : undefined;
    const env: Record<string, string> = url
      ? { PARLEY_WEBHOOK_URL: url, PARLEY_WEBHOOK_SECRET: benchWebhookSecret() }
      : {};
    return sink ? { env, sink } : { env };
  };
  const setup = make();
  if (quick) webhookSetups.set(variant, setup);
  return setup;
}

/** `--quick` starts one server per side (and env) and keeps it for every metric. */
const kept = new Map<string, Promise<Target>>();
function keptTarget(side: Side, env: Record<string, string>): Promise<Target> {
  const key = `${side} ${JSON.stringify(env)}`;
  let starting = kept.get(key);
  if (!starting) {
    // A quick run is a smoke test, often on a busy machine: a slow start is not a failure.
    starting = startTarget(side, env, 90_000);
    starting.catch(() => {}); // reported by the metric that awaits it
    kept.set(key, starting);
  }
  return starting;
}
if (quick) {
  // One start at a time, in the order the metrics need them, while the metrics run: starting
  // them all at once on two busy cores makes each take longer than a start may.
  let chain = Promise.resolve();
  const prestart = (side: Side, env: () => Promise<Record<string, string>>) => {
    chain = chain
      .then(() => env().then((e) => keptTarget(side, envOf(side, e)).then(() => {})))
      .catch(() => {});
  };
  for (const metric of metrics) {
    for (const side of sides) {
      if (!SUPPORTS[side].includes(metric)) continue;
      if (metric === "webhooks") {
        for (const variant of WEBHOOK_VARIANTS)
          prestart(side, () => webhookSetup(variant).then((w) => w.env));
      } else prestart(side, async () => ({}));
    }
  }
}

async function withTarget<T>(
  side: Side,
  fn: (t: Target) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T | undefined> {
  let target: Target | undefined;
  try {
    if (quick) return await fn(await keptTarget(side, envOf(side, env)));
    target = await startTarget(side, envOf(side, env));
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
  durationMs,
  bodyBytes: 120,
  warmupMs: SIZES.warmupMs,
};

/** Server CPU time per send, in µs: what would hold on a bigger machine, unlike sends/s here. */
const usPerSend = (x: { cpu: { server: number }; sendsPerSec: number }) =>
  x.sendsPerSec > 0 ? (x.cpu.server / 100 / x.sendsPerSec) * 1e6 : Number.NaN;

async function runMetric(metric: Metric, side: Side, round: number): Promise<void> {
  const label = `[${metric} ${side}${rounds > 1 ? ` round ${round + 1}` : ""}]`;
  const perSend = (x: { cpu: { server: number }; sendsPerSec: number }) =>
    `, ${fmt(usPerSend(x))} µs server CPU per send`;
  /** The relay's group commits in the window: messages per commit and its write's ms. */
  const commitsOf = (x: { commits?: { entriesPerCommit: number; writeMsPerCommit: number } }) =>
    x.commits
      ? `; ${fmt(x.commits.entriesPerCommit, 1)} entries per commit, its write ${fmt(x.commits.writeMsPerCommit, 2)} ms`
      : "";
  const t0 = performance.now();
  if (metric === "fanout") {
    const r = await withTarget(side, (t) =>
      runFanout(t, {
        ...SIZES.fanout,
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
        `  ${label} ${fmt(r.sendsPerSec)} sends/s, p50 ${fmt(r.latency.p50, 2)} ms, p99 ${fmt(r.latency.p99, 2)} ms, max ${fmt(r.latency.max, 1)} ms, ${r.latency.count} samples, ${r.errors} errors; CPU server ${fmt(r.cpu.server)}%, bench ${fmt(r.cpu.client)}%${perSend(r)}${commitsOf(r)}`,
      );
    }
  } else if (metric === "socket") {
    const r = await withTarget(side, (t) =>
      runSocketSends(t, {
        conversations: 8,
        perConversation: 4,
        warmupMs: SIZES.warmupMs,
        durationMs,
        bodyBytes: 120,
      }),
    );
    if (r) {
      results[side].socket.push(r);
      console.log(
        `  ${label} ${fmt(r.sendsPerSec)} socket sends/s with ack (${fmt(r.deliveriesPerSec)} deliveries/s), p50 ${fmt(r.latency.p50, 2)} ms, p99 ${fmt(r.latency.p99, 2)} ms, max ${fmt(r.latency.max, 1)} ms, ${r.errors} errors; CPU server ${fmt(r.cpu.server)}%, bench ${fmt(r.cpu.client)}%${perSend(r)}${commitsOf(r)}`,
      );
    }
  } else if (metric === "reactions") {
    // Relay only: the floor stores nothing and has no changes.
    if (side !== "relay") return;
    const r = await withTarget(side, (t) =>
      runReactions(t, { users: SIZES.reactionUsers, warmupMs: SIZES.warmupMs, durationMs }),
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
      const { sink, env } = await webhookSetup(variant);
      try {
        const before = sink?.received ?? 0;
        const run = await withTarget(side, (t) => runHttpWithDeliveries(t, sink, HTTP_LOAD), env);
        if (run) {
          const { result: r, whole } = run;
          const delivered = (sink?.received ?? 0) - before;
          results[side].webhooks.push({ variant, result: r, delivered, whole });
          const wholeRun = whole
            ? `; whole run: ${fmt(whole.sends)} sends${sink ? `, all delivered ${fmt(whole.drainMs)} ms after the load` : ""}, ${fmt(whole.sendsPerSec)} sends/s${sink ? " with every delivery made" : ""}, ${fmt(whole.cpuUsPerSend)} µs server CPU per send`
            : "";
          console.log(
            `  ${label} endpoint ${variant}: ${fmt(r.sendsPerSec)} sends/s, p50 ${fmt(r.latency.p50, 2)} ms, p99 ${fmt(r.latency.p99, 2)} ms, ${r.errors} errors${sink ? `, ${fmt(delivered)} deliveries` : ""}; CPU server ${fmt(r.cpu.server)}%${wholeRun}`,
          );
        }
      } finally {
        if (!quick) await sink?.close();
      }
    }
  } else if (metric === "bigroom") {
    const { window, ...size } = SIZES.bigroom;
    const r = await withTarget(side, (t) =>
      runFanout(t, {
        ...size,
        window,
        bodyBytes: 120,
        openConcurrency: 100,
        openTimeoutMs: quick ? 30_000 : 180_000,
        quietMaxMs: quick ? 2_000 : 20_000,
        userPrefix: "big-u",
      }),
    );
    if (r) {
      results[side].bigroom.push(r);
      console.log(
        `  ${label} ${fmt(r.deliveriesPerSec)} deliveries/s (${fmt(r.messagesPerSec, 1)} msgs/s, ${fmt(r.elapsedMs)} ms), one message to every socket p50 ${fmt(r.fullDelivery.p50, 1)} ms, p99 ${fmt(r.fullDelivery.p99, 1)} ms, max ${fmt(r.fullDelivery.max, 1)} ms; CPU server ${fmt(r.cpu.server)}%, bench ${fmt(r.cpu.client)}%`,
      );
    }
  } else if (metric === "manyrooms") {
    const { rooms, perRoom, warmupRooms, ...rest } = SIZES.manyrooms;
    /** One run of the metric's load over `n` rooms, on a fresh server. */
    const over = (n: number, warm: number) => {
      // Each sender is a member of n/senders rooms, with a socket in each: its connections.
      const perSender = Math.ceil(n / HTTP_LOAD.senders) + Math.ceil(warm / HTTP_LOAD.senders);
      const env: Record<string, string> =
        perSender + 1 > 100 ? { PARLEY_MAX_CONNECTIONS_PER_USER: String(perSender + 1) } : {};
      return withTarget(
        side,
        (t) =>
          runManyRooms(t, {
            rooms: n,
            warmupRooms: warm,
            perRoom,
            senders: HTTP_LOAD.senders,
            warmupMs: SIZES.warmupMs,
            durationMs,
            bodyBytes: 120,
            openTimeoutMs: quick ? 30_000 : 180_000,
            ...rest,
          }),
        env,
      );
    };
    // The ratio's base: the same senders, sockets per room and deliveries per send, in 8 rooms, so
    // the ratio holds only what more rooms cost. Before the many rooms in even rounds, after them
    // in odd ones.
    const base = async () => {
      if (side !== "relay") return;
      const b = await over(8, 2);
      if (b) {
        results[side].manyroomsBase.push(b);
        console.log(
          `  ${label} base (the same load in 8 rooms): ${fmt(b.sendsPerSec)} sends/s, p99 ${fmt(b.latency.p99, 2)} ms, ${b.errors} errors${perSend(b)}${commitsOf(b)}`,
        );
      }
    };
    if (round % 2 === 0) await base();
    const r = await over(rooms, warmupRooms);
    if (r) {
      results[side].manyrooms.push(r);
      console.log(
        `  ${label} ${fmt(r.sendsPerSec)} sends/s over ${fmt(rooms)} rooms, p50 ${fmt(r.latency.p50, 2)} ms, p99 ${fmt(r.latency.p99, 2)} ms, ${r.errors} errors; ${fmt(r.bytesPerRoom / 1024, 1)} KiB/room (RSS ${fmt(r.rssBeforeBytes / 2 ** 20, 1)} → ${fmt(r.rssAfterBytes / 2 ** 20, 1)} MiB); created in ${fmt(r.createMs)} ms, ${fmt(rooms * perRoom)} sockets open in ${fmt(r.connectMs)} ms; CPU server ${fmt(r.cpu.server)}%, bench ${fmt(r.cpu.client)}%${perSend(r)}${commitsOf(r)}`,
      );
    }
    if (round % 2 === 1) await base();
  } else if (metric === "presence") {
    if (side !== "relay") return;
    // One room of all the clients and rooms of 10, each on a fresh relay, in alternating order.
    const { clients, smallRoom } = SIZES.presence;
    for (const roomSize of round % 2 === 0 ? [clients, smallRoom] : [smallRoom, clients]) {
      const r = await withTarget(side, (t) => runPresenceStorm(t, { clients, roomSize, timeoutMs: 60_000 }));
      if (r) results[side].presence.push(r);
      if (r)
        console.log(
          `  ${label} ${r.rooms} × ${r.roomSize}: all back in ${fmt(r.allMs)} ms (${fmt(r.perClientMs, 3)} ms/client, p50 ${fmt(r.back.p50)} ms, last synced at ${fmt(r.synced.max)} ms, ${r.notBack} not back); presence per client ≤ ${r.frames.max} frames, ${fmt(r.bytes.max)} bytes; CPU server ${fmt(r.cpu.server)}%`,
        );
    }
  } else {
    const r = await withTarget(side, (t) => runMemory(t, SIZES.memory));
    if (r) {
      results[side].memory.push(r);
      console.log(
        `  ${label} ${fmt(r.heapBytesPerSocket)} bytes of live heap per socket; ${fmt(r.bytesPerSocket / 1024, 1)} KiB/socket of RSS (${fmt(r.rssBeforeBytes / 2 ** 20, 1)} → ${fmt(r.rssAfterBytes / 2 ** 20, 1)} MiB)`,
      );
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  if (elapsed > 60) console.log(`  ${label} took ${elapsed.toFixed(0)} s`);
}

const started = performance.now();
for (const metric of metrics) {
  const these = sides.filter((s) => SUPPORTS[s].includes(metric));
  for (let round = 0; round < rounds; round++) {
    // Rotate which side goes first, so slow drift on a shared machine does not favour one side.
    const order = these.map((_, i) => these[(i + round) % these.length] as Side);
    for (const side of order) await runMetric(metric, side, round);
  }
}
await Promise.all(
  [...kept.values()].map((t) =>
    t.then(
      (x) => x.stop(),
      () => {},
    ),
  ),
);
await Promise.all([...webhookSetups.values()].map((w) => w.then((x) => x.sink?.close())));

// ---- the table ----
const med = (xs: number[]) => (xs.length ? median(xs) : Number.NaN);
const f = results.floor;
const r = results.relay;
const haveRelay = sides.includes("relay");
interface Row {
  metric: string;
  /** The side the relay is compared with on this row (default: the floor). */
  vs?: Side;
  /** That side's value (the floor's, unless `vs` names a peer). */
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

const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "—");
const ran = (side: Side) => sides.includes(side);
/** Medians of a send metric's rounds (durable HTTP or socket sends), with server CPU per send. */
const sendStats = (xs: Array<HttpResult | SocketSendsResult>) => ({
  sendsPerSec: med(xs.map((x) => x.sendsPerSec)),
  p50: med(xs.map((x) => x.latency.p50)),
  p99: med(xs.map((x) => x.latency.p99)),
  cpuUsPerSend: med(xs.map(usPerSend)),
  errors: xs.reduce((a, x) => a + x.errors, 0),
});
type SendStats = ReturnType<typeof sendStats>;
/** The rows of a send metric against one other side: sends/s, p50, p99, server CPU per send. */
function sendRows(
  metric: string,
  vs: Side,
  other: SendStats,
  relay: SendStats,
  targets: { sends?: [string, (ratio: number) => boolean]; p99?: [string, (relayP99: number) => boolean] },
): void {
  const ratio = ratioOf(relay.sendsPerSec, other.sendsPerSec);
  const [sendsTarget, sendsOk] = targets.sends ?? ["(info)", undefined];
  rows.push({
    metric,
    vs,
    floor: fmt(other.sendsPerSec),
    relay: fmt(relay.sendsPerSec),
    ratio: times(ratio),
    target: sendsTarget,
    result: sendsOk ? verdict(Number.isFinite(ratio) ? sendsOk(ratio) && relay.errors === 0 : undefined) : "",
  });
  rows.push({
    metric: "  ack latency p50 (ms)",
    vs,
    floor: fmt(other.p50, 2),
    relay: fmt(relay.p50, 2),
    ratio: times(ratioOf(relay.p50, other.p50)),
    target: "(info)",
    result: "",
  });
  const [p99Target, p99Ok] = targets.p99 ?? ["(info)", undefined];
  rows.push({
    metric: "  ack latency p99 (ms)",
    vs,
    floor: fmt(other.p99, 2),
    relay: fmt(relay.p99, 2),
    ratio: times(ratioOf(relay.p99, other.p99)),
    target: p99Target,
    result: p99Ok ? verdict(Number.isFinite(relay.p99) ? p99Ok(relay.p99) : undefined) : "",
  });
  rows.push({
    metric: "  server CPU per send (µs)",
    vs,
    floor: fmt(other.cpuUsPerSend),
    relay: fmt(relay.cpuUsPerSend),
    ratio: times(ratioOf(relay.cpuUsPerSend, other.cpuUsPerSend)),
    target: "(info)",
    result: "",
  });
}

if (metrics.includes("fanout")) {
  const metric = `fan-out deliveries/s (${SIZES.fanout.subscribers} sockets)`;
  const fl = med(f.fanout.map((x) => x.deliveriesPerSec));
  const rl = med(r.fanout.map((x) => x.deliveriesPerSec));
  const ratio = ratioOf(rl, fl);
  rows.push({
    metric,
    floor: fmt(fl),
    relay: fmt(rl),
    ratio: times(ratio),
    // Issue 17: the floor broadcasts the naive way (a string framed per socket); the relay frames
    // a message once and writes the same bytes to every socket, which a pre-framed floor shows
    // is worth 1.31-1.34× here.
    target: "≥ 1.2×",
    result: verdict(Number.isFinite(ratio) ? ratio >= 1.2 : undefined),
  });
  const entry: Record<string, number> = { floor: fl, relay: rl, ratio };
  if (ran("socketio")) {
    const sl = med(results.socketio.fanout.map((x) => x.deliveriesPerSec));
    entry.socketio = sl;
    entry.ratioSocketio = ratioOf(rl, sl);
    rows.push({
      metric,
      vs: "socketio",
      floor: fmt(sl),
      relay: fmt(rl),
      ratio: times(entry.ratioSocketio),
      target: "(info)",
      result: "",
    });
  }
  summary.fanout = entry;
}
if (metrics.includes("http")) {
  const metric = "durable HTTP sends/s (32 senders, 8 convs)";
  const fl = sendStats(f.http);
  const rl = sendStats(r.http);
  // ≥ 0.5× the floor is withdrawn (issue 17): the floor's number is bounded by the load generator.
  sendRows(metric, "floor", fl, rl, { p99: ["≤ 20 ms", (p99) => p99 <= 20] });
  const entry: Record<string, unknown> = {
    floor: fl,
    relay: rl,
    ratio: ratioOf(rl.sendsPerSec, fl.sendsPerSec),
  };
  if (ran("naive")) {
    const nv = sendStats(results.naive.http);
    sendRows(metric, "naive", nv, rl, {
      sends: ["≥ 2×", (ratio) => ratio >= 2],
      p99: ["< naive", (p99) => p99 < nv.p99],
    });
    entry.naive = nv;
    entry.ratioNaive = ratioOf(rl.sendsPerSec, nv.sendsPerSec);
  }
  summary.http = entry;
}
if (metrics.includes("socket")) {
  const metric = "durable socket sends/s with ack (8 convs × 4)";
  const rl = sendStats(r.socket);
  const entry: Record<string, unknown> = { relay: rl };
  if (ran("floor")) {
    const fl = sendStats(f.socket);
    sendRows(metric, "floor", fl, rl, {});
    entry.floor = fl;
    entry.ratio = ratioOf(rl.sendsPerSec, fl.sendsPerSec);
  }
  if (ran("socketio")) {
    const sl = sendStats(results.socketio.socket);
    sendRows(metric, "socketio", sl, rl, { sends: ["≥ 1.0×", (ratio) => ratio >= 1] });
    entry.socketio = sl;
    entry.ratioSocketio = ratioOf(rl.sendsPerSec, sl.sendsPerSec);
  }
  summary.socket = entry;
}
if (metrics.includes("memory")) {
  // The target is on live JavaScript memory (heap in use + external, after a full GC): VmRSS also
  // counts the free pages a heap keeps, so a heap that grew during the warm-up holds the measured
  // sockets in pages it already had, and its increase swings from run to run. RSS is shown too.
  const metric = `idle memory per socket (bytes of live heap, ${fmt(SIZES.memory.sockets)} sockets)`;
  const rssMetric = "  the same in VmRSS (KiB per socket)";
  const heapOf = (side: MemoryResult[]) => med(side.map((x) => x.heapBytesPerSocket));
  const rssOf = (side: MemoryResult[]) => med(side.map((x) => x.bytesPerSocket));
  const fl = heapOf(f.memory);
  const rl = heapOf(r.memory);
  const ratio = ratioOf(rl, fl);
  const flRss = rssOf(f.memory);
  const rlRss = rssOf(r.memory);
  rows.push({
    metric,
    floor: fmt(fl),
    relay: fmt(rl),
    ratio: times(ratio),
    target: "≤ 1.1×",
    result: verdict(Number.isFinite(ratio) ? ratio <= 1.1 : undefined),
  });
  rows.push({
    metric: rssMetric,
    floor: fmt(flRss / 1024, 1),
    relay: fmt(rlRss / 1024, 1),
    ratio: times(ratioOf(rlRss, flRss)),
    target: "(info)",
    result: "",
  });
  const entry: Record<string, number> = {
    floor: fl,
    relay: rl,
    ratio,
    floorRss: flRss,
    relayRss: rlRss,
    ratioRss: ratioOf(rlRss, flRss),
  };
  if (ran("socketio")) {
    const sl = heapOf(results.socketio.memory);
    const slRss = rssOf(results.socketio.memory);
    entry.socketio = sl;
    entry.ratioSocketio = ratioOf(rl, sl);
    entry.socketioRss = slRss;
    rows.push({
      metric,
      vs: "socketio",
      floor: fmt(sl),
      relay: fmt(rl),
      ratio: times(entry.ratioSocketio),
      target: "(info)",
      result: "",
    });
    rows.push({
      metric: rssMetric,
      vs: "socketio",
      floor: fmt(slRss / 1024, 1),
      relay: fmt(rlRss / 1024, 1),
      ratio: times(ratioOf(rlRss, slRss)),
      target: "(info)",
      result: "",
    });
  }
  summary.memory = entry;
}

if (metrics.includes("reactions") && haveRelay) {
  const rl = med(r.reactions.map((x) => x.changesPerSec));
  const sends = med(r.http.map((x) => x.sendsPerSec));
  const ratio = ratioOf(rl, sends);
  const p99 = med(r.reactions.map((x) => x.latency.p99));
  rows.push({
    metric: `durable reactions/s, one message, ${SIZES.reactionUsers} users`,
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
  // The whole runs: sends/s until the endpoint had every message, and CPU per send with its
  // delivery, against the runs without an endpoint (see harness/webhook-run.ts).
  const wholeOf = (variant: WebhookVariant) =>
    r.webhooks.flatMap((x) => (x.variant === variant && x.whole ? [x.whole] : []));
  const noneWhole = wholeOf("none");
  const upWhole = wholeOf("up");
  if (noneWhole.length > 0 && upWhole.length > 0) {
    const noneRate = med(noneWhole.map((x) => x.sendsPerSec));
    const upRate = med(upWhole.map((x) => x.sendsPerSec));
    const noneCpu = med(noneWhole.map((x) => x.cpuUsPerSend));
    const upCpu = med(upWhole.map((x) => x.cpuUsPerSend));
    rows.push({
      metric: "  whole run, every delivery made: sends/s",
      floor: "—",
      relay: fmt(upRate),
      ratio: `${ratioOf(upRate, noneRate).toFixed(2)}× none (${fmt(noneRate)})`,
      target: "(info)",
      result: "",
    });
    rows.push({
      metric: "  server CPU per send, whole run (µs)",
      floor: "—",
      relay: fmt(upCpu),
      ratio: `none ${fmt(noneCpu)}: a delivery ${fmt(upCpu - noneCpu)}`,
      target: "(info)",
      result: "",
    });
    entry.wholeRun = {
      answering: { sendsPerSec: upRate, cpuUsPerSend: upCpu, drainMs: med(upWhole.map((x) => x.drainMs)) },
      none: { sendsPerSec: noneRate, cpuUsPerSend: noneCpu },
    };
  }
  summary.webhooks = entry;
}

if (metrics.includes("presence") && haveRelay) {
  const storm = presenceStormRows(r.presence, fmt, med);
  for (const row of storm.rows) rows.push({ ...row, floor: "—", result: "ok" in row ? verdict(row.ok) : "" });
  summary.presence = storm.summary;
}

if (metrics.includes("bigroom")) {
  const metric = `big room deliveries/s (${fmt(SIZES.bigroom.subscribers)} sockets, 1 room)`;
  const fl = med(f.bigroom.map((x) => x.deliveriesPerSec));
  const rl = med(r.bigroom.map((x) => x.deliveriesPerSec));
  const flP99 = med(f.bigroom.map((x) => x.fullDelivery.p99));
  const rlP99 = med(r.bigroom.map((x) => x.fullDelivery.p99));
  const ratio = ratioOf(rl, fl);
  rows.push({ metric, floor: fmt(fl), relay: fmt(rl), ratio: times(ratio), target: "(info)", result: "" });
  rows.push({
    metric: "  one message to every socket, p99 (ms)",
    floor: fmt(flP99, 1),
    relay: fmt(rlP99, 1),
    ratio: times(ratioOf(rlP99, flP99)),
    target: "(info)",
    result: "",
  });
  summary.bigroom = {
    sockets: SIZES.bigroom.subscribers,
    floor: { deliveriesPerSec: fl, p99: flP99 },
    relay: { deliveriesPerSec: rl, p99: rlP99 },
    ratio,
  };
}

if (metrics.includes("manyrooms") && haveRelay) {
  const rooms = fmt(SIZES.manyrooms.rooms);
  const sockets = SIZES.manyrooms.perRoom;
  /** The target is set for the issue's size; other sizes are there to take its cost apart. */
  const issueSize = SIZES.manyrooms.rooms === 2000 && sockets === 3;
  const socketsLabel = `${sockets} socket${sockets === 1 ? "" : "s"}`;
  const sendsLabel = `durable HTTP sends/s, ${rooms} rooms × ${socketsLabel}`;
  const rl = sendStats(r.manyrooms);
  // The base: the same load (senders, sockets per room, so deliveries per send) in 8 rooms.
  const base = sendStats(r.manyroomsBase);
  const ratio = ratioOf(rl.sendsPerSec, base.sendsPerSec);
  const perRoom = med(r.manyrooms.map((x) => x.bytesPerRoom));
  rows.push({
    metric: sendsLabel,
    floor: "—",
    relay: fmt(rl.sendsPerSec),
    ratio: Number.isFinite(ratio) ? `${ratio.toFixed(2)}× 8 rooms` : "— (no base)",
    target: issueSize ? "≥ 0.8× 8 rooms" : "(info: not 2,000 × 3)",
    result: issueSize
      ? verdict(Number.isFinite(ratio) ? ratio >= 0.8 && rl.errors === 0 && base.errors === 0 : undefined)
      : "",
  });
  rows.push({
    metric: "  send ack latency p99 (ms)",
    floor: "—",
    relay: fmt(rl.p99, 2),
    ratio: `${ratioOf(rl.p99, base.p99).toFixed(2)}× 8 rooms`,
    target: "(info)",
    result: "",
  });
  // Against metric 2 (8 conversations, no sockets), when it ran: each send here also makes
  // `sockets` deliveries, which metric 2 does not, so this ratio holds their cost too.
  const plainBase = metrics.includes("http") ? sendStats(r.http) : undefined;
  if (plainBase) {
    rows.push({
      metric: "  against metric 2 (no sockets)",
      floor: "—",
      relay: fmt(rl.sendsPerSec),
      ratio: `${ratioOf(rl.sendsPerSec, plainBase.sendsPerSec).toFixed(2)}× metric 2`,
      target: "(info)",
      result: "",
    });
  }
  rows.push({
    metric: `  relay RSS per room (KiB, its ${socketsLabel} included)`,
    floor: "—",
    relay: fmt(perRoom / 1024, 1),
    ratio: "",
    target: "(info)",
    result: "",
  });
  const entry: Record<string, unknown> = {
    rooms: SIZES.manyrooms.rooms,
    perRoom: sockets,
    relay: { ...rl, bytesPerRoom: perRoom },
    base,
    ratio,
    ...(plainBase ? { ratioMetric2: ratioOf(rl.sendsPerSec, plainBase.sendsPerSec) } : {}),
  };
  if (ran("naive")) {
    const nv = sendStats(results.naive.manyrooms);
    const nvPerRoom = med(results.naive.manyrooms.map((x) => x.bytesPerRoom));
    sendRows(sendsLabel, "naive", nv, rl, {});
    rows.push({
      metric: "  server RSS per room (KiB)",
      vs: "naive",
      floor: fmt(nvPerRoom / 1024, 1),
      relay: fmt(perRoom / 1024, 1),
      ratio: times(ratioOf(perRoom, nvPerRoom)),
      target: "(info)",
      result: "",
    });
    entry.naive = { ...nv, bytesPerRoom: nvPerRoom };
    entry.ratioNaive = ratioOf(rl.sendsPerSec, nv.sendsPerSec);
  }
  summary.manyrooms = entry;
}

/** A printed row: the relay against the side named in `vs`, whose value is in `other`. */
type Cells = Record<"metric" | "vs" | "other" | "relay" | "ratio" | "target" | "result", string>;
const cells = (row: Row): Cells => ({
  metric: row.metric,
  vs: row.floor === "—" && !row.vs ? "" : SIDE_NAMES[row.vs ?? "floor"],
  other: row.floor,
  relay: row.relay,
  ratio: row.ratio,
  target: row.target,
  result: row.result,
});
const header: Cells = {
  metric: "metric",
  vs: "vs",
  other: "other",
  relay: "relay",
  ratio: "ratio",
  target: "target",
  result: "result",
};
const printed = rows.map(cells);
const cols = Object.keys(header) as (keyof Cells)[];
const width = Object.fromEntries(
  cols.map((c) => [c, Math.max(...[header, ...printed].map((row) => row[c].length))]),
) as Record<keyof Cells, number>;
const line = (row: Cells) =>
  cols.map((c, i) => (i <= 1 ? row[c].padEnd(width[c]) : row[c].padStart(width[c]))).join("  ");
console.log("");
console.log(line(header));
console.log(cols.map((c) => "-".repeat(width[c])).join("  "));
for (const row of printed) console.log(line(row));

const notes: string[] = [];
for (const side of ALL_SIDES) {
  for (const e of errors[side]) notes.push(`${side}: ${e}`);
  for (const x of [
    ...results[side].fanout,
    ...results[side].http,
    ...results[side].memory,
    ...results[side].socket,
    ...results[side].reactions,
    ...results[side].presence,
    ...results[side].bigroom,
    ...results[side].manyrooms,
    ...results[side].manyroomsBase,
  ]) {
    for (const n of x.notes) notes.push(`${side}: ${n}`);
  }
  for (const [name, xs] of [
    ["fan-out", results[side].fanout],
    ["durable sends", results[side].http],
    ["socket sends", results[side].socket],
    ["the big room", results[side].bigroom],
    ["many rooms", results[side].manyrooms],
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
