/**
 * `npm run bench:writes`: what one write to a loopback TCP socket costs this process, in user and
 * system CPU, with nothing else around it. A relay delivery is such a write (its frame, ~300
 * bytes), so this is the floor under the relay's cost per delivery on the machine at hand.
 *
 * Two shapes, alternating, each on the same `--sockets` sockets (their readers are a child
 * process, so reading is not counted here):
 * - `spread`: each socket gets one frame per round, one write each — what sends spread over many
 *   rooms make (metric 9: a room of 3 gets about one message per commit);
 * - `held`: each socket gets `--frames` frames per round in one write (corked, as the relay holds a
 *   tick's frames) — what a hot room's commit makes when several of its sends share it.
 *
 * Flags: --sockets N (default 3000) · --rounds N (per shape and pass, default 20) · --frames N
 *        (held frames per write, default 4) · --bytes N (one frame, default 300) · --quick (100
 *        sockets, 3 rounds: a smoke run) · --json (the results as one JSON line at the end)
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { flagChecks, parseFlags } from "./harness/flags.ts";

const { values: args } = parseFlags("bench:writes", {
  options: {
    sockets: { type: "string", default: "3000" },
    rounds: { type: "string", default: "20" },
    frames: { type: "string", default: "4" },
    bytes: { type: "string", default: "300" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const { int } = flagChecks("bench:writes");
const sockets = args.quick ? 100 : int(args.sockets, "sockets", 1, 20_000);
const rounds = args.quick ? 3 : int(args.rounds, "rounds", 1, 1_000);
const framesPerWrite = int(args.frames, "frames", 2, 64);
const frameBytes = int(args.bytes, "bytes", 1, 65_536);

/** The readers: a child that accepts every connection and drops what it reads. */
const SINK = `
import net from "node:net";
const server = net.createServer((s) => s.on("data", () => {}));
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
process.on("disconnect", () => process.exit(0));
`;

function startSink(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", SINK], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the sink did not start within 10 s")), 10_000);
    child.once("error", reject);
    child.stdout?.once("data", (d: Buffer) => {
      clearTimeout(timer);
      resolve({ child, port: Number(String(d).trim()) });
    });
  });
}

async function connectAll(port: number, n: number): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from(
      { length: Math.min(100, n - i) },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(port, "127.0.0.1", () => resolve(s));
          s.setNoDelay(true);
          s.once("error", reject);
        }),
    );
    try {
      out.push(...(await Promise.all(batch)));
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      const hint = /EMFILE/.test(why)
        ? ` (each socket is an open file here and in the reader: try \`ulimit -n ${2 * n + 256}\`)`
        : "";
      throw new Error(`could not open socket ${i + 1}–${i + batch.length} of ${n}: ${why}${hint}`);
    }
  }
  return out;
}

const nextTick = () => new Promise<void>((r) => setImmediate(r));
/** Until every socket's queue is empty (bounded: 10 s), so a shape never pays for the last one's bytes. */
async function drained(all: net.Socket[]): Promise<void> {
  const until = Date.now() + 10_000;
  while (all.some((s) => s.writableLength > 0) && Date.now() < until) await nextTick();
}

interface ShapeResult {
  writes: number;
  frames: number;
  userUs: number;
  systemUs: number;
}

async function measure(all: net.Socket[], frame: Buffer, perWrite: number): Promise<ShapeResult> {
  await drained(all);
  const start = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    for (const s of all) {
      if (perWrite === 1) {
        s.write(frame);
        continue;
      }
      s.cork();
      for (let k = 0; k < perWrite; k++) s.write(frame);
      s.uncork();
    }
    await nextTick();
  }
  const used = process.cpuUsage(start);
  return {
    writes: rounds * all.length,
    frames: rounds * all.length * perWrite,
    userUs: used.user,
    systemUs: used.system,
  };
}

const fmt = (n: number) => n.toFixed(2);
const { child, port } = await startSink();
try {
  const all = await connectAll(port, sockets);
  const frame = Buffer.alloc(frameBytes, 0x61);
  console.log(
    `bench:writes — ${sockets} loopback sockets, 3 passes of ${rounds} rounds a shape (alternating), ${frameBytes}-byte frames; Node ${process.version}`,
  );
  // Warm-up: one round of each, not counted.
  for (const s of all) s.write(frame);
  await drained(all);
  const totals = { spread: [] as ShapeResult[], held: [] as ShapeResult[] };
  for (let pass = 0; pass < 3; pass++) {
    const order = pass % 2 === 0 ? (["spread", "held"] as const) : (["held", "spread"] as const);
    for (const shape of order) {
      totals[shape].push(await measure(all, frame, shape === "spread" ? 1 : framesPerWrite));
    }
  }
  const summary: Record<string, { userUsPerWrite: number; systemUsPerWrite: number; cpuUsPerFrame: number }> =
    {};
  for (const shape of ["spread", "held"] as const) {
    const sum = totals[shape].reduce(
      (a, x) => ({
        writes: a.writes + x.writes,
        frames: a.frames + x.frames,
        userUs: a.userUs + x.userUs,
        systemUs: a.systemUs + x.systemUs,
      }),
      { writes: 0, frames: 0, userUs: 0, systemUs: 0 },
    );
    const row = {
      userUsPerWrite: sum.userUs / sum.writes,
      systemUsPerWrite: sum.systemUs / sum.writes,
      cpuUsPerFrame: (sum.userUs + sum.systemUs) / sum.frames,
    };
    summary[shape] = row;
    const label = shape === "spread" ? "spread (1 frame a write)" : `held (${framesPerWrite} frames a write)`;
    console.log(
      `  ${label.padEnd(26)} per write: user ${fmt(row.userUsPerWrite)} µs, system ${fmt(row.systemUsPerWrite)} µs; per frame: ${fmt(row.cpuUsPerFrame)} µs (${sum.writes} writes)`,
    );
  }
  if (args.json) console.log(JSON.stringify({ sockets, rounds, framesPerWrite, frameBytes, ...summary }));
  for (const s of all) s.destroy();
} catch (error) {
  console.error(`bench:writes: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  child.kill();
}
// Sockets a failed run left open must not keep it alive.
process.exit();
