/**
 * `npm run test:soak` (= `tsx test/chaos/soak.ts`): the hostile soak of issue 12 at full size, a
 * real relay with its default limits under the attackers of `soak-hostile.ts` beside legitimate
 * traffic. Knobs from the environment:
 *
 * - SOAK_SECONDS (120): how long the load runs.
 * - SOAK_RATE (20): legitimate sends per second, half over HTTP, half over the socket.
 * - SOAK_SCALE (1): multiplies the attackers' connection counts; 0 runs the legitimate side alone
 *   (the baseline to compare with).
 * - SOAK_ONLY (unset): a comma list of the patterns to run (`historyNoRead`, `wsResumes`,
 *   `sseResumes`, `uploaders`, `longPolls`, `flooders`, `metaResenders`, `slowloris`, `inboxes`);
 *   the others get no connections. Side by side, the CPU patterns starve the relay so much that
 *   it serves few of the others: this looks at one class at a time.
 * - SOAK_MAX_RSS_MB, SOAK_MAX_P99_MS (unset): fail when the relay's peak RSS or the legitimate
 *   sends' p99 exceeds them. Without them both are printed, never judged.
 * - SOAK_ABORT_RSS_MB (6144): the attackers stop when the relay grows past this, so that a relay
 *   without bounds does not take the shared machine down with it (the report says when).
 *
 * Progress on stderr every 10 s, the final table on stdout. Exits 1 when something acknowledged
 * was lost, a history has a gap or a duplicate, a reader missed or repeated a message, the relay
 * died or stopped answering /healthz, or a threshold was exceeded; 2 when the soak itself failed.
 */
import { hostileCounts, PATTERNS } from "./soak-hostile.ts";
import { formatReport, runSoak, soakFailures } from "./soak-run.ts";

function knob(name: string, fallback: number): number;
function knob(name: string): number | undefined;
function knob(name: string, fallback?: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return n;
}

/** The full mix at SOAK_SCALE, less the patterns SOAK_ONLY leaves out. */
function attackers() {
  const counts = hostileCounts(knob("SOAK_SCALE", 1));
  const only = process.env.SOAK_ONLY?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!only?.length) return counts;
  const unknown = only.filter((name) => !(PATTERNS as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(`SOAK_ONLY: no pattern ${unknown.join(", ")} (${PATTERNS.join(", ")})`);
  for (const name of PATTERNS) if (!only.includes(name)) counts[name] = 0;
  return counts;
}

try {
  const report = await runSoak({
    seconds: knob("SOAK_SECONDS", 120),
    legit: { conversations: 4, rate: knob("SOAK_RATE", 20) },
    hostile: attackers(),
    abortRssMb: knob("SOAK_ABORT_RSS_MB", 6144),
    log: (line) => console.error(line),
  });
  console.log(formatReport(report));
  const failures = soakFailures(report, {
    maxRssMb: knob("SOAK_MAX_RSS_MB"),
    maxP99Ms: knob("SOAK_MAX_P99_MS"),
  });
  for (const f of failures) console.log(`FAIL: ${f}`);
  process.exit(failures.length > 0 ? 1 : 0);
} catch (error) {
  console.error("soak failed:", error);
  process.exit(2);
}
