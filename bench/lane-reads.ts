/**
 * `npm run bench:lanes`: what a webhook lane's reads cost, on their own, on a real libSQL file
 * with the real migrations: the store's native read connection (statements prepared once, the
 * path a local file takes) against the same reads through @libsql/client (the path a remote
 * store takes, and every path before 2026-12-03).
 *
 * One lane run is what `runLane` reads when it keeps pace with the sends: its cursor, the
 * conversation's events, a page of the log after its cursor (`--entries` new entries, 3 by
 * default) and their recipients, then the events and the log again, empty, to see it has caught
 * up. The conversation holds 1,000 messages with recipients. Each path runs `--runs` lane runs
 * (2,000 by default) in each of `--rounds` rounds (3), alternating; the CPU time of this process
 * per lane run is reported, and the ratio of the medians.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Message } from "../party/core/types.ts";
import { LibsqlStore } from "../store/libsql-store.ts";
import { openStore } from "../store/open.ts";
import { flagChecks, parseFlags } from "./harness/flags.ts";
import { median } from "./harness/stats.ts";

const { values: args } = parseFlags("bench:lanes", {
  options: {
    runs: { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
    entries: { type: "string", default: "3" },
  },
});
const { int } = flagChecks("bench:lanes");
const RUNS = int(args.runs, "runs", 1, 100_000);
const ROUNDS = int(args.rounds, "rounds", 1, 20);
const NEW_ENTRIES = int(args.entries, "entries", 1, 50);
const MESSAGES = 1_000;
const APP = "default";
const CONVERSATION = "c";

const dir = await mkdtemp(join(tmpdir(), "parley-lane-reads-"));
const store = await openStore({ url: `file:${join(dir, "p.db")}`, sync: "normal", busyTimeoutMs: 1000 });
try {
  const at = new Date().toISOString();
  await store.webhooks.createEndpoint({
    app: APP,
    id: "wh_bench",
    url: "https://example.com/hook",
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    events: [],
    status: "active",
    lastError: null,
    failingSince: null,
    createdAt: at,
  });
  await store.createConversation(
    APP,
    { id: CONVERSATION, title: null, lastSeq: 0, createdAt: at, lastActivityAt: at },
    ["ann", "bob", "cid", "dan"],
  );
  for (let first = 1; first <= MESSAGES; first += 50) {
    const messages: Message[] = Array.from({ length: 50 }, (_, i) => ({
      id: `m_${first + i}`,
      conversationId: CONVERSATION,
      seq: first + i,
      senderId: "ann",
      clientMessageId: `k${first + i}`,
      body: "hello ".repeat(20),
      createdAt: at,
      reactions: {},
      replyCount: 0,
    }));
    const recipients = JSON.stringify({ online: ["bob"], offline: ["cid", "dan"] });
    store.appendConnection?.write([
      {
        app: APP,
        conversationId: CONVERSATION,
        messages,
        changes: [],
        states: [],
        scrub: [],
        recipients: new Map(messages.map((m) => [m.seq, recipients])),
      },
    ]);
  }
  const events = await store.webhooks.readEvents(APP, CONVERSATION, 0, 50);
  const lastEvent = events.at(-1)?.id ?? 0;

  const paths = { "@libsql/client": new LibsqlStore(store.client), native: store } as const;
  const laneRun = async (s: LibsqlStore) => {
    const page = { after: MESSAGES - NEW_ENTRIES, limit: 50, maxBytes: 1 << 20 };
    await s.webhooks.readCursor(APP, "wh_bench", CONVERSATION);
    await s.webhooks.readEvents(APP, CONVERSATION, lastEvent, 50);
    const entries = await s.readLog(APP, CONVERSATION, page);
    if (entries.length !== NEW_ENTRIES) throw new Error(`read ${entries.length} entries, not ${NEW_ENTRIES}`);
    const seqs = entries.flatMap((e) => (e.type === "message" ? [e.message.seq] : []));
    const recipients = await s.webhooks.readRecipients(APP, CONVERSATION, seqs);
    if (recipients.size !== seqs.length) throw new Error("recipients missing");
    await s.webhooks.readEvents(APP, CONVERSATION, lastEvent, 50);
    await s.readLog(APP, CONVERSATION, { ...page, after: MESSAGES });
  };
  console.log(
    `lane runs of 6 reads (${NEW_ENTRIES} new entries), ${RUNS} per path per round, ${ROUNDS} rounds; Node ${process.version}`,
  );
  const perRun: Record<keyof typeof paths, number[]> = { "@libsql/client": [], native: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of Object.keys(paths) as Array<keyof typeof paths>) {
      const started = process.cpuUsage();
      for (let i = 0; i < RUNS; i++) await laneRun(paths[name]);
      const used = process.cpuUsage(started);
      const us = (used.user + used.system) / RUNS;
      perRun[name].push(us);
      console.log(`  round ${round} ${name.padEnd(15)} ${us.toFixed(1)} µs of CPU per lane run`);
    }
  }
  const client = median(perRun["@libsql/client"]);
  const native = median(perRun.native);
  console.log(
    `median: @libsql/client ${client.toFixed(1)} µs, native ${native.toFixed(1)} µs per lane run (${(client / native).toFixed(1)}× less CPU)`,
  );
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
