// @ts-check
/**
 * lifeline: runs one dev server (sqld, `wrangler dev`, `partykit dev`) so that it cannot outlive
 * the launcher that started it (`bin/edge-dev.ts`), however the launcher dies: SIGKILL, an OOM
 * kill, a closed terminal or a crash run no handler in the launcher, so the launcher itself cannot
 * be relied on to clean up. Node has no prctl(PR_SET_PDEATHSIG), and that would reach only the
 * direct child anyway, not workerd and esbuild below it.
 *
 *   node bin/lifeline.mjs <command> [args...]
 *
 * What the kernel guarantees instead: when a process dies for any reason, its file descriptors
 * are closed. Our stdin is a pipe whose only write end is held by the launcher (Node opens it
 * close-on-exec, so no other process inherits it). End of file on stdin therefore means the
 * launcher is gone, and we stop the server's whole process group (SIGTERM, then SIGKILL after a
 * grace period) and exit.
 *
 * Plain JavaScript, run by the same `node` without tsx: it starts in about a tenth of a second
 * and starts no esbuild of its own. The launcher spawns us `detached`, in our own session, so a
 * signal to the launcher's process group or terminal (Ctrl-\, a hang-up, `kill -9 -<pgid>`)
 * cannot take us down together with the launcher before we have done our job.
 *
 * The server is spawned `detached` too, as the leader of a process group of its own that holds
 * it and everything it starts (wrangler and partykit leave workerd and esbuild behind when they
 * are killed). Its group id is written once, as a decimal line, to fd 3 when the launcher opened
 * one: if this process is itself SIGKILLed, the launcher can still stop the group.
 *
 * Contract with the launcher:
 * - SIGTERM, SIGINT or SIGHUP to us: passed on to the server's group; SIGKILL after the grace.
 * - The server's top process exits (stopped or on its own): whatever is left of its group is
 *   SIGKILLed (it has lost its manager) and we exit with the server's code (1 if it was killed
 *   by a signal), so the launcher notices as it would the server itself.
 * - So we never outlive the server's top process, nor the launcher by more than the grace.
 * - stdin must be that pipe: a stdin at end of file (`/dev/null`) stops the server at once.
 */
import { spawn } from "node:child_process";
import { closeSync, writeSync } from "node:fs";

/** As the launcher's own escalation: wrangler and partykit need a second or two to stop. */
const GRACE_MS = 3_000;
/** The fd on which the launcher reads the server's process group id. */
const REPORT_FD = 3;

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write("usage: node bin/lifeline.mjs <command> [args...]\n");
  process.exit(2);
}

/**
 * Once the launcher is gone our stdout and stderr may be broken pipes: a write error must not
 * crash us before the server is stopped, so errors there are ignored (we write almost nothing).
 */
process.stdout.on("error", () => undefined);
process.stderr.on("error", () => undefined);

// stdin "ignore": the server must not read the lifeline (and has no terminal to read anyway).
const server = spawn(command, args, { detached: true, stdio: ["ignore", "inherit", "inherit"] });
const group = server.pid;

if (group !== undefined) {
  try {
    writeSync(REPORT_FD, `${group}\n`);
    closeSync(REPORT_FD);
  } catch {
    // No fd 3 (run by hand): nobody to tell.
  }
}

/** @param {NodeJS.Signals} signal */
function signalGroup(signal) {
  if (group === undefined) return;
  try {
    process.kill(-group, signal);
  } catch {
    // ESRCH: the group is empty.
  }
}

let stopping = false;
/** @param {NodeJS.Signals} signal */
function stop(signal) {
  if (stopping) return;
  stopping = true;
  signalGroup(signal);
  // Not unref'd: this timer is what bounds our life if the server ignores the signal.
  setTimeout(() => {
    signalGroup("SIGKILL");
    process.exit(1);
  }, GRACE_MS);
}

server.once("error", (error) => {
  process.stderr.write(`parley: could not start ${command}: ${error.message}\n`);
  process.exit(1);
});
server.once("exit", (code) => {
  // The top process is gone; anything left in its group (workerd, esbuild) has lost the process
  // that would stop it. workerd and sqld keep their data in SQLite, which survives a SIGKILL.
  signalGroup("SIGKILL");
  process.exit(code ?? 1);
});

for (const signal of /** @type {const} */ (["SIGTERM", "SIGINT", "SIGHUP"])) {
  process.on(signal, () => stop(signal));
}

// The lifeline. "end" is the launcher's death (or an explicit end); "error" and "close" cover a
// reset socket. We read and discard whatever arrives: only the end matters.
process.stdin.on("data", () => undefined);
process.stdin.once("end", () => stop("SIGTERM"));
process.stdin.once("close", () => stop("SIGTERM"));
process.stdin.once("error", () => stop("SIGTERM"));
