/**
 * `npm run bench:stall`: how long a relay holding many idle sockets keeps a request waiting while
 * it runs its WebSocket heartbeat (issue 17). Until 2026-12-02 the heartbeat pinged every socket
 * in one turn of the event loop, ~200 ms at 6,000 sockets, once per interval; now the sockets are
 * pinged a group at a time (party/node/heartbeat-slices.ts).
 *
 * A relay (`bin/parley.ts`, as the bench starts it) with `PARLEY_HEARTBEAT_MS` short (2 s), so the
 * heartbeat runs several times in the window. A probe asks `GET /healthz` over one keep-alive
 * connection, one request every 10 ms, for `--seconds`, and records each answer's latency:
 * - **baseline**: before any socket is open (the same relay, the same probe: this machine's noise);
 * - **with sockets**: after `--sockets` idle sockets (conversations of 30 members, one socket each)
 *   have `synced` and gone quiet.
 * Reported for both: p50, p99, p99.9, max, and the answers slower than 50 ms. The probe is serial,
 * so a stall delays one probe (later ones start after it): p99 undercounts a long stall, max and
 * the count over 50 ms show it. The run fails (exit 1) if the heartbeat cut a socket that answers.
 *
 * Flags: --sockets N (6000) · --seconds S (12) · --heartbeat MS (2000) · --quick (300 sockets,
 * 3 s: a smoke run) · --json (a JSON line at the end). Loopback only; every loop is bounded.
 */
import http from "node:http";
import { flagChecks, parseFlags } from "./harness/flags.ts";
import { openClients, waitQuiet } from "./harness/sockets.ts";
import { summarize } from "./harness/stats.ts";
import { startTarget } from "./harness/target.ts";

const { values: args } = parseFlags("bench:stall", {
  options: {
    sockets: { type: "string" },
    seconds: { type: "string" },
    heartbeat: { type: "string", default: "2000" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const { int } = flagChecks("bench:stall");
const quick = args.quick === true;
const MEMBERS = 30;
const SOCKETS = int(args.sockets ?? (quick ? "300" : "6000"), "sockets", MEMBERS, 20_000);
const SECONDS = int(args.seconds ?? (quick ? "3" : "12"), "seconds", 1, 600);
const HEARTBEAT_MS = int(args.heartbeat, "heartbeat", 100, 600_000);
const PROBE_EVERY_MS = 10;
const SLOW_MS = 50;

interface Probe {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  over50: number;
}

/** `GET /healthz` every PROBE_EVERY_MS for `seconds`, one at a time, each answer's latency. */
async function probe(baseUrl: string, seconds: number): Promise<Probe> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  const most = Math.ceil((seconds * 1000) / PROBE_EVERY_MS);
  try {
    while (Date.now() < end && latencies.length < most) {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${baseUrl}/healthz`, { agent, timeout: 10_000 }, (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`healthz ${res.statusCode}`)),
          );
        });
        req.on("timeout", () => req.destroy(new Error("healthz: no answer within 10 s")));
        req.on("error", reject);
      });
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
    }
  } finally {
    agent.destroy();
  }
  const summary = summarize(latencies);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    count: latencies.length,
    p50: summary.p50,
    p99: summary.p99,
    p999: sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.999) - 1)] ?? Number.NaN,
    max: summary.max,
    over50: latencies.filter((ms) => ms > SLOW_MS).length,
  };
}

const fmt = (p: Probe) =>
  `p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)}, p99.9 ${p.p999.toFixed(1)}, max ${p.max.toFixed(1)}; ` +
  `${p.over50} of ${p.count} over ${SLOW_MS} ms`;

async function main(): Promise<void> {
  console.log(
    `bench:stall — ${SOCKETS} idle sockets, PARLEY_HEARTBEAT_MS=${HEARTBEAT_MS}, /healthz every ${PROBE_EVERY_MS} ms for ${SECONDS} s`,
  );
  const target = await startTarget("relay", { PARLEY_HEARTBEAT_MS: String(HEARTBEAT_MS) });
  let closedByRelay = 0;
  try {
    const baseline = await probe(target.server.baseUrl, SECONDS);
    console.log(`  baseline, no sockets: ${fmt(baseline)}`);
    const urls: string[] = [];
    for (let c = 0; c < SOCKETS / MEMBERS; c++) {
      const id = `stall-${c}`;
      const members = Array.from({ length: MEMBERS }, (_, i) => `u${c}-${i}`);
      await target.createConversation(id, members);
      for (const m of members) urls.push(target.wsUrl(id, await target.token(m)));
    }
    const clients = await openClients(urls, 100, 180_000);
    clients.onClose = () => closedByRelay++;
    await waitQuiet(clients, 1_000, 20_000);
    console.log(`  ${clients.sockets.length} sockets synced and quiet`);
    const loaded = await probe(target.server.baseUrl, SECONDS);
    console.log(`  with ${clients.sockets.length} sockets:  ${fmt(loaded)}`);
    await clients.closeAll();
    if (closedByRelay > 0)
      console.log(`  FAIL: the relay closed ${closedByRelay} sockets that answer its pings`);
    console.log(`  max with sockets / without: ${(loaded.max / baseline.max).toFixed(2)}×`);
    if (args.json) {
      console.log(
        JSON.stringify({
          ok: closedByRelay === 0,
          sockets: SOCKETS,
          heartbeatMs: HEARTBEAT_MS,
          baseline,
          loaded,
          closedByRelay,
        }),
      );
    }
  } finally {
    await target.stop();
  }
  process.exit(closedByRelay === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(`bench:stall: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
