/**
 * `npm run bench:commit`: what one group commit costs, on its own, through the relay's real
 * commit connection (`store/native-append.ts`) on a real libSQL file with the real migrations.
 * The durable-sends metric of `npm run bench` spends about half its time here, so this shows
 * where that half goes without the HTTP side around it.
 *
 * The groups have the shape the durable-sends metric produces: 32 senders over 8 conversations,
 * each group holding `size` messages of random senders (~120-byte bodies, ids like the bench's).
 * Each case starts on a fresh database, writes 2,000 groups to warm up (the indexes grow past
 * the cache and the WAL wraps), then measures 3,000 groups.
 *
 * Flags: --sizes 1,8,27 (messages per commit) · --sync full,normal
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Message } from "../party/core/types.ts";
import type { AppendRows } from "../store/append-rows.ts";
import { openStore, type SyncMode } from "../store/open.ts";

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "1,8,27" },
    sync: { type: "string", default: "full,normal" },
  },
});
const sizes = (args.sizes ?? "").split(",").map(Number);
const syncs = (args.sync ?? "").split(",") as SyncMode[];
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 500)) {
  console.error("bench:commit: --sizes wants integers from 1 to 500, e.g. --sizes 1,8,27");
  process.exit(2);
}
if (syncs.some((s) => s !== "full" && s !== "normal")) {
  console.error("bench:commit: --sync wants full, normal or both (full,normal)");
  process.exit(2);
}

const SENDERS = 32;
const CONVERSATIONS = 8;
const WARMUP_GROUPS = 2_000;
const MEASURED_GROUPS = 3_000;
const PAD = "x".repeat(100);

interface Cost {
  wallMs: number;
  cpuMs: number;
  sysMs: number;
}

async function measure(sync: SyncMode, size: number): Promise<Cost> {
  const dir = await mkdtemp(join(tmpdir(), "parley-commit-"));
  const store = await openStore({ url: `file:${join(dir, "p.db")}`, sync });
  try {
    const connection = store.appendConnection;
    if (!connection) throw new Error("a file database has a commit connection");
    const at = new Date().toISOString();
    for (let c = 0; c < CONVERSATIONS; c++) {
      const record = { id: `c${c}`, title: null, lastSeq: 0, createdAt: at, lastActivityAt: at };
      const members = Array.from({ length: SENDERS / CONVERSATIONS }, (_, i) => `u${c + i * CONVERSATIONS}`);
      await store.createConversation("default", record, members);
    }
    const seqs = new Array<number>(CONVERSATIONS).fill(0);
    const sent = new Array<number>(SENDERS).fill(0);
    const group = (): AppendRows[] => {
      const jobs = new Map<number, Message[]>();
      for (let i = 0; i < size; i++) {
        const sender = Math.floor(Math.random() * SENDERS);
        const conv = sender % CONVERSATIONS;
        const seq = (seqs[conv] ?? 0) + 1;
        seqs[conv] = seq;
        const n = sent[sender] ?? 0;
        sent[sender] = n + 1;
        const message: Message = {
          id: `m_${conv}_${seq}_${Math.random().toString(36).slice(2, 12)}`,
          conversationId: `c${conv}`,
          seq,
          senderId: `u${sender}`,
          clientMessageId: `h${sender}-${n}`,
          body: `${sender} ${n} ${PAD}`,
          createdAt: at,
          reactions: {},
          replyCount: 0,
        };
        jobs.set(conv, [...(jobs.get(conv) ?? []), message]);
      }
      return [...jobs].map(([conv, messages]) => ({
        app: "default",
        conversationId: `c${conv}`,
        messages,
        changes: [],
        states: [],
        scrub: [],
      }));
    };
    for (let g = 0; g < WARMUP_GROUPS; g++) await connection.write(group());
    const groups = Array.from({ length: MEASURED_GROUPS }, group);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const jobs of groups) await connection.write(jobs);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return {
      wallMs: wall / MEASURED_GROUPS,
      cpuMs: (cpu.user + cpu.system) / 1000 / MEASURED_GROUPS,
      sysMs: cpu.system / 1000 / MEASURED_GROUPS,
    };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(`Parley commit cost — ${new Date().toISOString()}, Node ${process.version}`);
console.log(
  `${SENDERS} senders over ${CONVERSATIONS} conversations; ${MEASURED_GROUPS} commits measured per case after ${WARMUP_GROUPS}\n`,
);
console.log("sync    msgs/commit  wall ms/commit  CPU ms/commit (kernel)  CPU µs/message");
for (const sync of syncs) {
  for (const size of sizes) {
    const cost = await measure(sync, size);
    console.log(
      [
        sync.padEnd(6),
        String(size).padStart(12),
        cost.wallMs.toFixed(3).padStart(15),
        `${cost.cpuMs.toFixed(3)} (${cost.sysMs.toFixed(3)})`.padStart(23),
        ((cost.cpuMs * 1000) / size).toFixed(1).padStart(15),
      ].join("  "),
    );
  }
}
