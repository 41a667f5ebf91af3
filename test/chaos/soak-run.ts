/**
 * The hostile soak of issue 12, shared by `soak.ts` (`npm run test:soak`, full size) and
 * `soak.test.ts` (bounded, in `npm test`): a real relay process with its default limits, the
 * legitimate traffic of `soak-legit.ts` beside the attackers of `soak-hostile.ts`, the relay's
 * memory and CPU read from /proc every second, a progress line every 10 s, and at the end the
 * checks: nothing acknowledged lost, every conversation gap-free and duplicate-free, every reader
 * got every message once and in order, the relay still serving.
 *
 * No vitest here: the script runs it without a test runner.
 */
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { api, type Message, mintToken } from "../helpers/clients.ts";
import { processStats, type ServerHandle, startServer } from "../helpers/server.ts";
import { Hostile, type HostileCounts, type PatternReport } from "./soak-hostile.ts";
import { Ledger, Legit, type LegitOptions, type Sample, sleep } from "./soak-legit.ts";

export interface SoakOptions {
  seconds: number;
  legit: LegitOptions;
  hostile: HostileCounts;
  /** Seconds between progress lines. Default 10. */
  windowSeconds?: number;
  /** Above this relay RSS the attackers are stopped, to spare the machine (the report says so). */
  abortRssMb: number;
  /** How long after the cleanup the relay's RSS is read again. Default 3000. */
  afterCleanupMs?: number;
  log?: (line: string) => void;
}

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface Window {
  fromS: number;
  toS: number;
  sends: Percentiles;
  deliveries: Percentiles;
  rssMb: number;
  cpuPercent: number;
  fds: number;
  loopP99Ms: number;
  /** Legitimate sends still waiting for their ack at the end of the window, and the oldest's age. */
  pending: { count: number; oldestMs: number };
  open: Record<string, number>;
}

export interface SoakReport {
  seconds: number;
  relay: {
    rssMb: { start: number; max: number; maxAtS: number; endOfLoad: number; afterCleanup: number };
    cpuSeconds: number;
    cpuPercent: number;
    fdsMax: number;
    /** How the relay process ended during the load, if it did. */
    exit: string | null;
    healthz: number;
    logTail: string[];
  };
  harness: { cpuSeconds: number; loopP99Ms: number; loopMaxMs: number };
  /** The machine's 1-minute load average when the load started and ended (it is shared). */
  machine: { cores: number; loadStart: number; loadEnd: number };
  sends: { http: Percentiles; ws: Percentiles; all: Percentiles; unacked: number; retries: number };
  deliveries: { ws: Percentiles; sse: Percentiles; longPoll: Percentiles };
  windows: Window[];
  hostile: {
    patterns: PatternReport[];
    uploadRate: number;
    busySent: number;
    busyAcked: number;
    stoppedAtS: number | null;
  };
  checks: {
    acked: number;
    stored: number;
    lostAcked: number;
    gaps: number;
    duplicateSeqs: number;
    duplicateKeys: number;
    ackConflicts: number;
    unexpected: string[];
    readers: number;
    readersBehind: number;
    readerGaps: number;
    readerDuplicates: number;
  };
}

export function percentiles(samples: readonly Sample[]): Percentiles {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  return { n: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted.at(-1) ?? 0 };
}

const MiB = 1024 * 1024;
const inWindow = (samples: readonly Sample[], from: number, to: number) =>
  samples.filter((s) => s.at >= from && s.at < to);

/** Runs the soak on a fresh relay and measures it; see {@link soakFailures} for the verdict. */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? (() => undefined);
  const windowMs = (opts.windowSeconds ?? 10) * 1000;
  const server = await startServer({ env: { PARLEY_LOG: "warn" } });
  const ledger = new Ledger();
  const legit = new Legit(server, ledger, opts.legit);
  const hostile = new Hostile(server, ledger, opts.hostile);
  try {
    await legit.setup();
    await hostile.seed();
    const relayPid = server.proc.pid;
    const stats = () => processStats(relayPid);
    const first = stats();
    if (!first) throw new Error("cannot read the relay's /proc entry");
    let peak = { rss: first.rssBytes, at: Date.now() };
    let fdsMax = first.fds;
    let last = { ...first, at: Date.now() };
    const harnessCpu = process.cpuUsage();
    const loop = monitorEventLoopDelay({ resolution: 10 });
    const windowLoop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    windowLoop.enable();

    const loadStart = Date.now();
    const loadAvgStart = os.loadavg()[0] ?? 0;
    const until = loadStart + opts.seconds * 1000;
    log(
      `soak: relay pid ${relayPid}, ${opts.legit.rate} legit sends/s over ${opts.legit.conversations} conversations, ` +
        `attackers ${hostile.patterns.map((p) => `${p.name} ×${p.slots}`).join(", ")} ` +
        `(uploads ${opts.hostile.uploadRate}/s), ${opts.seconds} s`,
    );
    hostile.start();
    legit.start(until);

    const windows: Window[] = [];
    let exit: string | null = null;
    let stoppedAt: number | null = null;
    let windowStart = { at: loadStart, cpuMs: first.cpuMs };
    const closeWindow = (now: number, cur: { cpuMs: number; rssBytes: number; fds: number }) => {
      const allSends = [...legit.sends.http, ...legit.sends.ws];
      const allDeliveries = Object.values(legit.deliveries).flat();
      const w: Window = {
        fromS: Math.round((windowStart.at - loadStart) / 1000),
        toS: Math.round((now - loadStart) / 1000),
        sends: percentiles(inWindow(allSends, windowStart.at, now)),
        deliveries: percentiles(inWindow(allDeliveries, windowStart.at, now)),
        rssMb: cur.rssBytes / MiB,
        cpuPercent: ((cur.cpuMs - windowStart.cpuMs) / Math.max(1, now - windowStart.at)) * 100,
        fds: cur.fds,
        loopP99Ms: windowLoop.percentile(99) / 1e6,
        pending: legit.pending(),
        open: hostile.openNow(),
      };
      windows.push(w);
      windowLoop.reset();
      windowStart = { at: now, cpuMs: cur.cpuMs };
      log(windowLine(w));
    };

    for (let tick = 0; tick < 1_000_000 && Date.now() < until; tick++) {
      await sleep(Math.min(1000, until - Date.now()));
      const cur = stats();
      if (!cur || server.proc.exitCode !== null || server.proc.signalCode !== null) {
        const info = await server.exited;
        exit = `exited at ${((Date.now() - loadStart) / 1000).toFixed(0)} s (code ${info.code}, signal ${info.signal})`;
        log(`soak: the relay ${exit}`);
        break;
      }
      last = { ...cur, at: Date.now() };
      if (cur.rssBytes > peak.rss) peak = { rss: cur.rssBytes, at: Date.now() };
      fdsMax = Math.max(fdsMax, cur.fds);
      if (stoppedAt === null && cur.rssBytes > opts.abortRssMb * MiB) {
        stoppedAt = Date.now();
        log(
          `soak: relay RSS ${(cur.rssBytes / MiB).toFixed(0)} MiB is over ${opts.abortRssMb} MiB: attackers stopped`,
        );
        await hostile.stop();
      }
      if (Date.now() - windowStart.at >= windowMs - 500) closeWindow(Date.now(), cur);
    }
    const endOfLoad = exit ? null : stats();
    const loadAvgEnd = os.loadavg()[0] ?? 0;
    if (endOfLoad) last = { ...endOfLoad, at: Date.now() };
    if (endOfLoad && Date.now() - windowStart.at > 2000) closeWindow(Date.now(), endOfLoad);

    // ---- wind down: attackers hang up, the last legit sends finish, readers catch up.
    await hostile.stop();
    if (exit) await server.restart(); // a crashed relay: restart it to see what its store kept
    await legit.finishSending();
    const stored = new Map<string, Message[]>();
    for (const [conv, member] of [...legit.conversations, ...hostile.conversations]) {
      stored.set(conv, await storedHistory(server, conv, member));
    }
    await legit.catchUp(new Map([...stored].map(([c, msgs]) => [c, msgs.length])), 30_000);
    const healthz = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10_000) })
      .then((r) => r.status)
      .catch(() => 0);
    legit.close();
    await sleep(opts.afterCleanupMs ?? 3000); // a moment for the relay to let go of what the attackers held
    const after = processStats(server.proc.pid);
    loop.disable();
    windowLoop.disable();
    // A relay that died is counted up to its last sample.
    const cpuMs = last.cpuMs - first.cpuMs;
    const harness = process.cpuUsage(harnessCpu);

    const allSends = [...legit.sends.http, ...legit.sends.ws];
    return {
      seconds: opts.seconds,
      relay: {
        rssMb: {
          start: first.rssBytes / MiB,
          max: peak.rss / MiB,
          maxAtS: (peak.at - loadStart) / 1000,
          endOfLoad: (endOfLoad?.rssBytes ?? 0) / MiB,
          afterCleanup: (after?.rssBytes ?? 0) / MiB,
        },
        cpuSeconds: cpuMs / 1000,
        cpuPercent: (cpuMs / Math.max(1, last.at - loadStart)) * 100,
        fdsMax,
        exit,
        healthz,
        logTail: server
          .output()
          .split("\n")
          .filter((l) => /error|warn|exception|heap/i.test(l))
          .slice(-8),
      },
      harness: {
        cpuSeconds: (harness.user + harness.system) / 1e6,
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6,
      },
      machine: { cores: os.availableParallelism(), loadStart: loadAvgStart, loadEnd: loadAvgEnd },
      sends: {
        http: percentiles(legit.sends.http),
        ws: percentiles(legit.sends.ws),
        all: percentiles(allSends),
        unacked: legit.unacked,
        retries: legit.retries,
      },
      deliveries: {
        ws: percentiles(legit.deliveries.ws),
        sse: percentiles(legit.deliveries.sse),
        longPoll: percentiles(legit.deliveries.longPoll),
      },
      windows,
      hostile: {
        patterns: hostile.reports().filter((p) => p.slots > 0),
        uploadRate: opts.hostile.uploadRate,
        busySent: hostile.busySent,
        busyAcked: hostile.busyAcked,
        stoppedAtS: stoppedAt === null ? null : (stoppedAt - loadStart) / 1000,
      },
      checks: check(ledger, stored, legit),
    };
  } finally {
    legit.close();
    await hostile.stop();
    await server.dispose();
  }
}

/** Every stored message of a conversation, page by page (bounded). */
async function storedHistory(server: ServerHandle, conv: string, member: string): Promise<Message[]> {
  const reader = api(() => server.url, await mintToken(server.secret, member));
  const all: Message[] = [];
  for (let page = 0, after = 0; page < 10_000; page++) {
    const res = await reader.get(`/v1/conversations/${conv}/messages?after=${after}&limit=200`, {
      timeoutMs: 30_000,
    });
    if (res.status !== 200) throw new Error(`history of ${conv}: ${res.status} ${res.text.slice(0, 200)}`);
    const messages = res.json.messages as Message[];
    all.push(...messages);
    if (!res.json.hasMore || messages.length === 0) return all;
    after = (messages.at(-1) as Message).seq;
  }
  throw new Error(`history of ${conv}: too many pages`);
}

function check(ledger: Ledger, stored: Map<string, Message[]>, legit: Legit): SoakReport["checks"] {
  let gaps = 0;
  let duplicateSeqs = 0;
  let duplicateKeys = 0;
  const bySeq = new Map<string, Message>();
  for (const [conv, messages] of stored) {
    const keys = new Set<string>();
    for (const m of messages) {
      if (bySeq.has(`${conv}#${m.seq}`)) duplicateSeqs++;
      bySeq.set(`${conv}#${m.seq}`, m);
      const id = Ledger.id(conv, m.senderId, m.clientMessageId);
      if (keys.has(id)) duplicateKeys++;
      keys.add(id);
    }
    const maxSeq = messages.reduce((mx, m) => Math.max(mx, m.seq), 0);
    for (let seq = 1; seq <= maxSeq; seq++) if (!bySeq.has(`${conv}#${seq}`)) gaps++;
  }
  let lostAcked = 0;
  for (const [id, ack] of ledger.acked) {
    const m = bySeq.get(`${ack.conv}#${ack.seq}`);
    if (!m || Ledger.id(ack.conv, m.senderId, m.clientMessageId) !== id || m.body !== ack.body) lostAcked++;
  }
  const lastSeq = (conv: string) => stored.get(conv)?.length ?? 0;
  return {
    acked: ledger.acked.size,
    stored: [...stored.values()].reduce((n, msgs) => n + msgs.length, 0),
    lostAcked,
    gaps,
    duplicateSeqs,
    duplicateKeys,
    ackConflicts: ledger.conflicts,
    unexpected: ledger.unexpected.slice(0, 5),
    readers: legit.readers.length,
    readersBehind: legit.readers.filter((r) => r.lastSeq < lastSeq(r.conv)).length,
    readerGaps: legit.readers.reduce((n, r) => n + r.gaps, 0),
    readerDuplicates: legit.readers.reduce((n, r) => n + r.duplicates, 0),
  };
}

/** Correctness violations: what makes the soak (and its test) fail. */
export function correctnessFailures(r: SoakReport): string[] {
  const c = r.checks;
  const failures: string[] = [];
  if (c.lostAcked > 0) failures.push(`${c.lostAcked} acknowledged messages lost or changed`);
  if (c.gaps > 0) failures.push(`${c.gaps} missing seqs in the stored histories`);
  if (c.duplicateSeqs + c.duplicateKeys > 0)
    failures.push(`${c.duplicateSeqs} seqs and ${c.duplicateKeys} keys stored twice`);
  if (c.ackConflicts > 0) failures.push(`${c.ackConflicts} keys acknowledged with two seqs`);
  if (c.unexpected.length > 0) failures.push(`sends refused: ${c.unexpected.join("; ")}`);
  if (c.readersBehind + c.readerGaps + c.readerDuplicates > 0)
    failures.push(
      `readers: ${c.readersBehind} of ${c.readers} behind, ${c.readerGaps} gaps, ${c.readerDuplicates} duplicates`,
    );
  if (r.relay.exit) failures.push(`the relay ${r.relay.exit}`);
  if (r.relay.healthz !== 200) failures.push(`/healthz answered ${r.relay.healthz} at the end`);
  return failures;
}

/** Correctness, plus the optional thresholds (`SOAK_MAX_RSS_MB`, `SOAK_MAX_P99_MS`). */
export function soakFailures(r: SoakReport, limits: { maxRssMb?: number; maxP99Ms?: number }): string[] {
  const failures = correctnessFailures(r);
  if (limits.maxRssMb !== undefined && r.relay.rssMb.max > limits.maxRssMb)
    failures.push(`relay RSS reached ${r.relay.rssMb.max.toFixed(0)} MiB (limit ${limits.maxRssMb})`);
  if (limits.maxP99Ms !== undefined && r.sends.all.p99 > limits.maxP99Ms)
    failures.push(`legit send p99 ${r.sends.all.p99} ms (limit ${limits.maxP99Ms})`);
  return failures;
}

const ms = (p: Percentiles) =>
  p.n === 0 ? "n=0" : `n=${p.n} p50 ${p.p50} p95 ${p.p95} p99 ${p.p99} max ${p.max} ms`;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

function windowLine(w: Window): string {
  const open = Object.entries(w.open)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return (
    `[${String(w.fromS).padStart(4)}–${String(w.toS).padEnd(4)}s] relay rss ${w.rssMb.toFixed(0)} MiB ` +
    `cpu ${w.cpuPercent.toFixed(0)}% fds ${w.fds} | sends ${ms(w.sends)}, ${w.pending.count} waiting ` +
    `(oldest ${(w.pending.oldestMs / 1000).toFixed(1)} s) | deliveries p99 ${w.deliveries.n ? w.deliveries.p99 : "–"} ms ` +
    `| harness loop p99 ${w.loopP99Ms.toFixed(0)} ms | open: ${open || "none"}`
  );
}

/** The final table. */
export function formatReport(r: SoakReport): string {
  const { rssMb } = r.relay;
  const lines = [
    `soak: ${r.seconds} s of load`,
    `relay RSS           start ${rssMb.start.toFixed(0)} MiB, max ${rssMb.max.toFixed(0)} MiB (at ${rssMb.maxAtS.toFixed(0)} s), ` +
      `end of load ${rssMb.endOfLoad.toFixed(0)} MiB, after cleanup ${rssMb.afterCleanup.toFixed(0)} MiB`,
    `relay CPU           ${r.relay.cpuSeconds.toFixed(1)} s over ${r.seconds} s = ${r.relay.cpuPercent.toFixed(0)}% of one core; ` +
      `fds max ${r.relay.fdsMax}; ${r.relay.exit ? `EXITED ${r.relay.exit}` : "no crash"}; /healthz ${r.relay.healthz}`,
    `machine             ${r.machine.cores} cores, load average ${r.machine.loadStart.toFixed(1)} at the start, ${r.machine.loadEnd.toFixed(1)} at the end`,
    `harness             CPU ${r.harness.cpuSeconds.toFixed(1)} s; event-loop delay p99 ${r.harness.loopP99Ms.toFixed(0)} ms, max ${r.harness.loopMaxMs.toFixed(0)} ms`,
    `legit sends HTTP    ${ms(r.sends.http)}`,
    `legit sends socket  ${ms(r.sends.ws)}`,
    `legit sends all     ${ms(r.sends.all)}; unacked ${r.sends.unacked}, retries ${r.sends.retries}`,
    `  p99 per window    ${r.windows.map((w) => `${w.toS}s:${w.sends.n ? w.sends.p99 : "–"}`).join(" ")} ms ` +
      `(–: no send acked in that window)`,
    `deliveries WS       ${ms(r.deliveries.ws)}`,
    `deliveries SSE      ${ms(r.deliveries.sse)}`,
    `deliveries poll     ${ms(r.deliveries.longPoll)}`,
  ];
  if (r.hostile.patterns.length > 0) {
    lines.push(
      `attackers           den busy: ${r.hostile.busyAcked}/${r.hostile.busySent} sends acked; ` +
        `uploads ${r.hostile.uploadRate} frames/s per socket` +
        (r.hostile.stoppedAtS === null
          ? ""
          : `; STOPPED at ${r.hostile.stoppedAtS.toFixed(0)} s (relay RSS ceiling)`),
    );
    for (const p of r.hostile.patterns) {
      const outcomes = Object.entries(p.outcomes)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ×${v}`)
        .join(", ");
      const frames = p.framesSent > 0 ? `; ${p.framesSent} frames up, ${p.uploadStalls} stalls` : "";
      lines.push(
        `  ${p.what} ×${p.slots}: ${p.opened} connections; ${outcomes}; pushed max ${mib(p.maxBytes)}, ` +
          `total ${mib(p.totalBytes)}; held up to ${(p.maxHeldMs / 1000).toFixed(0)} s${frames}`,
      );
    }
  }
  const c = r.checks;
  lines.push(
    `checks              acked ${c.acked}, stored ${c.stored}, lost ${c.lostAcked}, gaps ${c.gaps}, ` +
      `duplicates ${c.duplicateSeqs + c.duplicateKeys}, ack conflicts ${c.ackConflicts}, refused ${c.unexpected.length}; ` +
      `readers ${c.readers}: behind ${c.readersBehind}, gaps ${c.readerGaps}, duplicates ${c.readerDuplicates}`,
  );
  if (r.relay.logTail.length > 0)
    lines.push("relay log (last warnings and errors):", ...r.relay.logTail.map((l) => `  ${l}`));
  return lines.join("\n");
}
