/**
 * A relay on local workerd whose whole process group is SIGKILLed while its libSQL server cannot
 * be reached, then started again with the server back: every conversation must answer again,
 * with what it acknowledged before the kill. Real workerd (`npm run dev:workers`), real sqld
 * behind a real TCP proxy, a real SIGKILL of every process of the relay (workerd gets no chance
 * to shut down).
 *
 * Found from outside: after such a restart a conversation answered 500 to every request
 * ("this.ctx.id.name is not set and no __ps_name fallback", from partyserver). After a restart,
 * local workerd makes an object's instance for an alarm ring from the bare id its alarm
 * scheduler kept (no `ctx.id.name`), and every later call reaches that nameless instance. When
 * the ring runs `alarm()`, partyserver reads the name it kept in storage and all is well. But
 * workerd keeps each alarm twice, in the object's own storage and in the scheduler's, and while
 * sqld is away the room's log keeps moving its alarm (retries, the safety alarm): a kill between
 * the two writes leaves the scheduler ringing at a time the object no longer has. That ring
 * makes the nameless instance and runs nothing, and every call then threw in partyserver's
 * `this.name`. The kill cannot be aimed between two writes that close together (30 rooms killed
 * three times in their retries never landed there), so the test leaves the state such a kill
 * leaves: after the real SIGKILL it moves the scheduler's record of two rooms' alarms before the
 * room's own (one room's own alarm later, the other's gone). A third room is left as the kill
 * left it. The files are local workerd's (miniflare's) under `wrangler dev --persist-to`.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { createClient } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiResponse } from "../helpers/clients.ts";
import { type RelayOnSqld, startRelayOnSqld } from "../helpers/relay-on-sqld.ts";

/** Every process under `root` (its children, theirs, …), read from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // Gone meanwhile.
    }
  }
  const found: number[] = [];
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(root);
  return found;
}

/** The process group of `pid`, or undefined once it is gone. */
function groupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return undefined;
  }
}

/**
 * SIGKILLs the relay and every process it started, all at once and by process group (the dev
 * command runs workerd in a group of its own, whose supervisor would otherwise stop it cleanly).
 */
async function killEverything(relay: RelayOnSqld): Promise<void> {
  const root = relay.server.proc.pid as number;
  const pids = [root, ...descendants(root)];
  // The groups its supervisors lead (never the test runner's own group, which the relay shares).
  const groups = pids.filter((pid) => pid !== root && groupOf(pid) === pid);
  for (const group of groups) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // ESRCH: already gone.
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // ESRCH: already gone.
    }
  }
  await relay.server.exited;
  // Until every one of them is gone, workerd may still hold its storage.
  const deadline = Date.now() + 10_000;
  while (pids.some((pid) => groupOf(pid) !== undefined) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
}

/** Where local workerd keeps the conversation objects' storage (wrangler dev --persist-to). */
const objectsDir = (relay: RelayOnSqld) =>
  path.join(relay.server.dbDir, "wrangler-state", "v3", "do", "parley-ConversationServer");

/** The file of the object named `name` (miniflare records each object's name in its database). */
async function objectFile(dir: string, name: string): Promise<string> {
  for (const file of readdirSync(dir).filter((f) => /^[0-9a-f]{64}\.sqlite$/.test(f))) {
    const db = createClient({ url: `file:${path.join(dir, file)}` });
    try {
      const rows = await db.execute("SELECT name FROM __miniflare_do_name").catch(() => ({ rows: [] }));
      if (rows.rows.some((r) => r.name === name)) return file;
    } finally {
      db.close();
    }
  }
  throw new Error(`no storage for ${name} in ${dir}`);
}

/**
 * What a kill between the two writes that move an alarm leaves: the alarm scheduler rings the
 * object now, while the object's own alarm is `own` (ms since the epoch) or gone (null).
 */
async function splitAlarm(dir: string, name: string, own: number | null): Promise<void> {
  const file = await objectFile(dir, name);
  const ns = (ms: number) => BigInt(ms) * 1_000_000n;
  const object = createClient({ url: `file:${path.join(dir, file)}`, intMode: "bigint" });
  try {
    // Key 1 of workerd's own metadata table is the object's alarm, in ns.
    if (own === null) await object.execute("DELETE FROM _cf_METADATA WHERE key = 1");
    else
      await object.execute({
        sql: "INSERT OR REPLACE INTO _cf_METADATA (key, value) VALUES (1, ?)",
        args: [ns(own)],
      });
  } finally {
    object.close();
  }
  const scheduler = createClient({ url: `file:${path.join(dir, "metadata.sqlite")}`, intMode: "bigint" });
  try {
    await scheduler.execute({
      sql: "INSERT OR REPLACE INTO _cf_ALARM (actor_id, scheduled_time) VALUES (?, ?)",
      args: [file.replace(/\.sqlite$/, ""), ns(Date.now() - 1000)],
    });
  } finally {
    scheduler.close();
  }
}

describe("workers: SIGKILLed while sqld is away, restarted with sqld back", () => {
  let relay: RelayOnSqld;

  beforeAll(async () => {
    // A short bound on each libSQL call, so that a send while sqld is away is answered soon.
    relay = await startRelayOnSqld("workers", { PARLEY_DB_TIMEOUT_MS: "1000" });
  }, 120_000);

  afterAll(async () => {
    await relay?.dispose();
  });

  it("every conversation answers again, with every message it acknowledged", async () => {
    const { admin, ann } = relay;
    const stamp = Date.now().toString(36);
    /** As the kill left it; the scheduler's ring moved before the room's own alarm; its own alarm gone. */
    const ids = { asLeft: `left-${stamp}`, later: `later-${stamp}`, gone: `gone-${stamp}` };
    const acked = new Map<string, string[]>();
    for (const id of Object.values(ids)) {
      const created = await admin.post("/v1/conversations", { id, members: ["ann", "bob"] });
      expect(created.status, created.text).toBe(201);
      const first = await ann.post(`/v1/conversations/${id}/messages`, {
        clientMessageId: "m1",
        body: "before",
      });
      expect(first.status, first.text).toBe(201);
      acked.set(id, ["before"]);
    }

    // The rooms' logs take these sends while sqld is away, and move their alarms to flush them.
    await relay.whileDatabaseAway(async () => {
      for (const id of Object.values(ids)) {
        const res = await ann.post(`/v1/conversations/${id}/messages`, {
          clientMessageId: "m2",
          body: "while away",
        });
        if (res.status === 201) acked.get(id)?.push("while away");
        else expect(res.status, res.text).toBe(503);
      }
      // Long enough for the flushes to fail and retry a few times (each waits at most 1 s).
      await new Promise((r) => setTimeout(r, 1500));
      await killEverything(relay);
    });
    const dir = objectsDir(relay);
    await splitAlarm(dir, `default:${ids.later}`, Date.now() + 120_000);
    await splitAlarm(dir, `default:${ids.gone}`, null);

    await relay.server.restart();
    /** A request that does not answer is a status 0, so the expectation names it. */
    const answered = (res: Promise<ApiResponse>) =>
      res.catch((e: Error) => ({ status: 0, text: e.message, json: null }) as unknown as ApiResponse);
    for (const id of Object.values(ids)) {
      const base = `/v1/conversations/${id}`;
      const deadline = Date.now() + 15_000;
      let history = await answered(ann.get(`${base}/messages`));
      // The restarted room may answer 503 while it flushes its log; never 500.
      while (history.status === 503 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        history = await answered(ann.get(`${base}/messages`));
      }
      expect(history.status, `${id}: ${history.text}\n${relay.server.output().slice(-3000)}`).toBe(200);
      expect(history.json.messages.map((m: { body: string }) => m.body)).toEqual(acked.get(id));

      const after = await answered(ann.post(`${base}/messages`, { clientMessageId: "m3", body: "after" }));
      expect(after.status, `${id}: ${after.text}\n${relay.server.output().slice(-3000)}`).toBe(201);
      expect(after.json.message.seq).toBe((acked.get(id)?.length ?? 0) + 1);
    }
  }, 150_000);
});
