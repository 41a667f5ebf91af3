/**
 * A reconnect storm (issue 17): every client of a freshly started relay connects at the same
 * moment, resuming with `after` as after a restart, when presence starts empty. Measured: how
 * long until every client has synced and holds its room's full online set (folding the full
 * list and the deltas as the SDK does), per client. Run as one room of `clients` members and
 * as rooms of `roomSize`: with presence as deltas the big room should cost about the same per
 * client; with a whole list per change it cost N changes × N sockets × N ids.
 * Relay only: the floor has no presence.
 */
import WebSocket from "ws";
import { SYNCED } from "./sockets.ts";
import { cpuMeter } from "./spawn.ts";
import { type LatencySummary, summarize } from "./stats.ts";
import type { Target } from "./target.ts";

const PRESENCE = Buffer.from('"type":"presence"');

export interface PresenceStormOptions {
  /** Clients in all (one per member). */
  clients: number;
  /** Members per room: `clients` for one big room, less for several. */
  roomSize: number;
  /** Clients not back by then count as not back. */
  timeoutMs: number;
}

export interface PresenceStormResult {
  rooms: number;
  roomSize: number;
  clients: number;
  /** From the first connect until the last client held its room's full set (NaN: not all did). */
  allMs: number;
  /** `allMs` per client. */
  perClientMs: number;
  /** When each client was back (synced, full set), from the first connect. */
  back: LatencySummary;
  /** When each client got `synced` (its presence may still be incomplete then). */
  synced: LatencySummary;
  notBack: number;
  /** Presence frames and bytes per client: mean and max. */
  frames: { mean: number; max: number };
  bytes: { mean: number; max: number };
  cpu: { server: number; client: number };
  notes: string[];
}

interface Client {
  room: number;
  synced: boolean;
  syncedAt: number;
  online: Set<string> | undefined;
  backAt: number;
  frames: number;
  bytes: number;
}

export async function runPresenceStorm(
  target: Target,
  opts: PresenceStormOptions,
): Promise<PresenceStormResult> {
  const rooms = Math.max(1, Math.ceil(opts.clients / opts.roomSize));
  const tag = `ps${opts.roomSize}-${Date.now().toString(36)}`;
  const members = Array.from({ length: rooms }, (_, r) =>
    Array.from({ length: opts.roomSize }, (_, i) => `${tag}-r${r}-u${i}`),
  );
  // Each room has one message, so every client resumes with `after` (and replays nothing).
  for (const [r, ids] of members.entries()) {
    await target.createConversation(`${tag}-r${r}`, ids);
    const res = await fetch(`${target.server.baseUrl}/v1/conversations/${tag}-r${r}/messages`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await target.token(ids[0] as string)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ clientMessageId: "seed", body: "before the restart" }),
    });
    if (res.status !== 201)
      throw new Error(`seed message: ${res.status} ${(await res.text()).slice(0, 160)}`);
  }
  const plan = members.flatMap((ids, room) => ids.map((user) => ({ room, user })));
  const urls = await Promise.all(
    plan.map(
      async ({ room, user }) => `${target.wsUrl(`${tag}-r${room}`, await target.token(user))}&after=1`,
    ),
  );
  const clients: Client[] = plan.map(({ room }) => ({
    room,
    synced: false,
    syncedAt: Number.NaN,
    online: undefined,
    backAt: Number.NaN,
    frames: 0,
    bytes: 0,
  }));
  const sockets: WebSocket[] = [];
  const failures: string[] = [];
  let pending = clients.length;
  let allBack: () => void = () => {};
  const everyoneBack = new Promise<void>((resolve) => {
    allBack = resolve;
  });

  const meter = cpuMeter(target.server.pid);
  const t0 = performance.now();
  for (const [i, url] of urls.entries()) {
    const c = clients[i] as Client;
    const ws = new WebSocket(url, { skipUTF8Validation: true, handshakeTimeout: opts.timeoutMs });
    sockets.push(ws);
    ws.on("message", (data: Buffer) => {
      if (!c.synced && data.indexOf(SYNCED) !== -1) {
        c.synced = true;
        c.syncedAt = performance.now() - t0;
      }
      if (data.indexOf(PRESENCE) === -1) return;
      c.frames++;
      c.bytes += data.length;
      const f = JSON.parse(data.toString()) as { online?: string[]; joined?: string[]; left?: string[] };
      if (f.online) c.online = new Set(f.online);
      else if (c.online) {
        for (const u of f.left ?? []) c.online.delete(u);
        for (const u of f.joined ?? []) c.online.add(u);
      } else failures.push(`client ${i}: a presence delta before the full list`);
      if (c.synced && Number.isNaN(c.backAt) && c.online?.size === opts.roomSize) {
        c.backAt = performance.now() - t0;
        if (--pending === 0) allBack();
      }
    });
    ws.on("error", (err) => failures.push(`client ${i}: ${err.message}`));
    ws.on("close", (code) => {
      if (Number.isNaN(c.backAt)) failures.push(`client ${i}: closed ${code} before it was back`);
    });
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([everyoneBack, new Promise<void>((r) => (timer = setTimeout(r, opts.timeoutMs)))]);
  clearTimeout(timer);
  const cpu = meter();
  await closeAll(sockets);

  const notes: string[] = [];
  // The full set means exactly the room's members (a size match with a foreign id would lie).
  for (const [i, c] of clients.entries()) {
    const want = members[c.room] as string[];
    if (!Number.isNaN(c.backAt) && !want.every((u) => c.online?.has(u)))
      notes.push(`client ${i} held a wrong online set`);
  }
  const backTimes = clients.map((c) => c.backAt).filter((t) => !Number.isNaN(t));
  const notBack = clients.length - backTimes.length;
  const allMs = notBack === 0 ? Math.max(...backTimes) : Number.NaN;
  if (notBack > 0) notes.push(`${notBack} of ${clients.length} clients not back within ${opts.timeoutMs} ms`);
  if (failures.length > 0)
    notes.push(`${failures.length} socket failures, first: ${failures.slice(0, 3).join("; ")}`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    rooms,
    roomSize: opts.roomSize,
    clients: clients.length,
    allMs,
    perClientMs: allMs / clients.length,
    back: summarize(backTimes),
    synced: summarize(clients.map((c) => c.syncedAt).filter((t) => !Number.isNaN(t))),
    notBack,
    frames: { mean: mean(clients.map((c) => c.frames)), max: Math.max(...clients.map((c) => c.frames)) },
    bytes: { mean: mean(clients.map((c) => c.bytes)), max: Math.max(...clients.map((c) => c.bytes)) },
    cpu,
    notes,
  };
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  const open = sockets.filter((ws) => ws.readyState !== WebSocket.CLOSED);
  const closed = open.map((ws) => new Promise<void>((r) => ws.once("close", () => r())));
  for (const ws of open) ws.terminate();
  await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 5000))]);
}

/** A row of the bench's table; `ok` (when present) is the verdict on its target. */
export interface StormRow {
  metric: string;
  relay: string;
  ratio: string;
  target: string;
  ok?: boolean | undefined;
}

/** The metric's table rows: each variant, then the big room's cost per client against the small rooms'. */
export function presenceStormRows(
  results: readonly PresenceStormResult[],
  fmt: (n: number, digits?: number) => string,
  median: (xs: number[]) => number,
): { rows: StormRow[]; summary: unknown } {
  const sizes = [...new Set(results.map((r) => r.roomSize))].sort((a, b) => b - a);
  const rows: StormRow[] = [];
  const per: Record<number, number> = {};
  const summary: Record<string, unknown> = {};
  for (const size of sizes) {
    const xs = results.filter((r) => r.roomSize === size);
    const first = xs[0] as PresenceStormResult;
    const perClient = median(xs.map((r) => r.perClientMs));
    per[size] = perClient;
    const notBack = Math.max(...xs.map((r) => r.notBack));
    const label = first.rooms === 1 ? `a room of ${size}` : `${first.rooms} rooms of ${size}`;
    rows.push({
      metric: `reconnect storm, ${label}: ms per client until back`,
      relay: fmt(perClient, 3),
      ratio: "",
      target: "(info)",
    });
    rows.push({
      metric: `  all ${first.clients} back (ms); presence bytes per client, max`,
      relay: `${fmt(median(xs.map((r) => r.allMs)))}; ${fmt(Math.max(...xs.map((r) => r.bytes.max)))}`,
      ratio: notBack > 0 ? `${notBack} not back` : "",
      target: "all back",
      ok: notBack === 0,
    });
    summary[`room${size}`] = {
      rooms: first.rooms,
      perClientMs: perClient,
      allMs: median(xs.map((r) => r.allMs)),
      p99Ms: median(xs.map((r) => r.back.p99)),
      presenceBytesMax: Math.max(...xs.map((r) => r.bytes.max)),
      presenceFramesMax: Math.max(...xs.map((r) => r.frames.max)),
      notBack,
    };
  }
  const [big, small] = sizes;
  if (big !== undefined && small !== undefined) {
    const ratio = (per[big] as number) / (per[small] as number);
    rows.push({
      metric: `  per client: room of ${big} ÷ rooms of ${small}`,
      relay: Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "—",
      ratio: "",
      target: "≤ 1.5×",
      ok: Number.isFinite(ratio) ? ratio <= 1.5 : undefined,
    });
    summary.ratio = ratio;
  }
  return { rows, summary };
}
