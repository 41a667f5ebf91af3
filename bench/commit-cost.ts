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
 * `--conversations 8,2000` spreads the same senders over more conversations, as the many-rooms
 * metric does (each sender posts to its conversations in turn): a group then holds many rooms'
 * one-message batches, and each message dirties index and conversation pages of its own room.
 * The bytes the process wrote per commit (WAL frames and checkpoints, `/proc/self/io`) show it.
 *
 * `--keys` picks how senders make their idempotency keys: `sdk` (the SDK's, time first:
 * client/ids.ts, every sender on this machine's clock), `skewed` (the SDK's on devices whose
 * clocks are off: each sender's by a fixed amount within ±1 s, so its keys land at a place of
 * their own in the index), `random` (22 random characters, as the SDK made them before and many
 * other clients do) or `counter` (`h<sender>-<n>`, as this bench did until 2026-12-02).
 *
 * Flags: --sizes 1,8,27 (messages per commit) · --sync full,normal · --conversations 8 ·
 *        --keys sdk,random,counter (default sdk)
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newClientMessageId } from "../client/ids.ts";
import type { Message } from "../party/core/types.ts";
import type { AppendRows } from "../store/append-rows.ts";
import { openStore, type SyncMode } from "../store/open.ts";
import { parseFlags } from "./harness/flags.ts";

const { values: args } = parseFlags("bench:commit", {
  options: {
    sizes: { type: "string", default: "1,8,27" },
    sync: { type: "string", default: "full,normal" },
    conversations: { type: "string", default: "8" },
    keys: { type: "string", default: "sdk" },
  },
});
const sizes = (args.sizes ?? "").split(",").map(Number);
const syncs = (args.sync ?? "").split(",") as SyncMode[];
const conversationCounts = (args.conversations ?? "").split(",").map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 500)) {
  console.error("bench:commit: --sizes wants integers from 1 to 500, e.g. --sizes 1,8,27");
  process.exit(2);
}
if (conversationCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000)) {
  console.error("bench:commit: --conversations wants integers from 1 to 100000, e.g. --conversations 8,2000");
  process.exit(2);
}
const KEY_KINDS = ["sdk", "skewed", "random", "counter"] as const;
type KeyKind = (typeof KEY_KINDS)[number];
const keyKinds = (args.keys ?? "").split(",") as KeyKind[];
if (keyKinds.some((k) => !KEY_KINDS.includes(k))) {
  console.error("bench:commit: --keys wants sdk, skewed, random, counter or a comma list of them");
  process.exit(2);
}
if (syncs.some((s) => s !== "full" && s !== "normal")) {
  console.error("bench:commit: --sync wants full, normal or both (full,normal)");
  process.exit(2);
}

const SENDERS = 32;
const WARMUP_GROUPS = 2_000;
const MEASURED_GROUPS = 3_000;
const PAD = "x".repeat(100);

/** Bytes this process has caused to be written to storage so far (Linux; 0 elsewhere). */
function writtenBytes(): number {
  try {
    const m = /write_bytes: (\d+)/.exec(readFileSync("/proc/self/io", "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

interface Cost {
  wallMs: number;
  kib: number;
  cpuMs: number;
  sysMs: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** 22 random characters of the key alphabet. */
function randomKey(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let out = "";
  for (const b of randomBytes(22)) out += alphabet[b & 63];
  return out;
}

/** Per sender, how far its clock is off (for `skewed` keys): fixed, within ±1 s. */
const CLOCK_OFFSETS_MS = Array.from({ length: SENDERS }, () => (Math.random() * 2 - 1) * 1000);

function keyOf(kind: KeyKind, sender: number, n: number): string {
  switch (kind) {
    case "sdk":
      return newClientMessageId();
    case "skewed":
      return newClientMessageId(Date.now() + (CLOCK_OFFSETS_MS[sender] ?? 0));
    case "random":
      return randomKey();
    case "counter":
      return `h${sender}-${n}`;
  }
}

async function measure(sync: SyncMode, size: number, conversations: number, keys: KeyKind): Promise<Cost> {
  const dir = await mkdtemp(join(tmpdir(), "parley-commit-"));
  const store = await openStore({ url: `file:${join(dir, "p.db")}`, sync });
  try {
    const connection = store.appendConnection;
    if (!connection) throw new Error("a file database has a commit connection");
    const at = new Date().toISOString();
    // Sender s posts to conversations s, s + 32, s + 64, … (mod their count) in turn, as the
    // many-rooms metric's senders do; with 8 conversations that is conversation s mod 8.
    const shared = gcd(SENDERS, conversations);
    for (let c = 0; c < conversations; c++) {
      const record = { id: `c${c}`, title: null, lastSeq: 0, createdAt: at, lastActivityAt: at };
      const members = Array.from({ length: SENDERS / shared }, (_, i) => `u${(c % shared) + i * shared}`);
      await store.createConversation("default", record, members);
    }
    const seqs = new Array<number>(conversations).fill(0);
    const sent = new Array<number>(SENDERS).fill(0);
    const group = (): AppendRows[] => {
      const jobs = new Map<number, Message[]>();
      for (let i = 0; i < size; i++) {
        const sender = Math.floor(Math.random() * SENDERS);
        const n = sent[sender] ?? 0;
        const conv = (sender + SENDERS * n) % conversations;
        const seq = (seqs[conv] ?? 0) + 1;
        seqs[conv] = seq;
        sent[sender] = n + 1;
        const message: Message = {
          id: `m_${conv}_${seq}_${Math.random().toString(36).slice(2, 12)}`,
          conversationId: `c${conv}`,
          seq,
          senderId: `u${sender}`,
          clientMessageId: keyOf(keys, sender, n),
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
    const bytes0 = writtenBytes();
    const t0 = performance.now();
    for (const jobs of groups) await connection.write(jobs);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return {
      wallMs: wall / MEASURED_GROUPS,
      kib: (writtenBytes() - bytes0) / 1024 / MEASURED_GROUPS,
      cpuMs: (cpu.user + cpu.system) / 1000 / MEASURED_GROUPS,
      sysMs: cpu.system / 1000 / MEASURED_GROUPS,
    };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(`Parley commit cost — ${new Date().toISOString()}, Node ${process.version}`);
console.log(`${SENDERS} senders; ${MEASURED_GROUPS} commits measured per case after ${WARMUP_GROUPS}\n`);
console.log(
  "keys     sync    convs  msgs/commit  wall ms/commit  CPU ms/commit (kernel)  CPU µs/message  KiB written/commit",
);
for (const keys of keyKinds)
  for (const sync of syncs) {
    for (const conversations of conversationCounts)
      for (const size of sizes) {
        const cost = await measure(sync, size, conversations, keys);
        console.log(
          [
            keys.padEnd(7),
            sync.padEnd(6),
            String(conversations).padStart(5),
            String(size).padStart(12),
            cost.wallMs.toFixed(3).padStart(15),
            `${cost.cpuMs.toFixed(3)} (${cost.sysMs.toFixed(3)})`.padStart(23),
            ((cost.cpuMs * 1000) / size).toFixed(1).padStart(15),
            cost.kib.toFixed(1).padStart(18),
          ].join("  "),
        );
      }
  }
