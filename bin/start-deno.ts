/**
 * `npm run start:deno`: the same relay under the `deno` binary from npm, with the same
 * environment. Deno runs `bin/parley.ts` through its Node compatibility (node:http, ws and the
 * native libSQL driver), so behaviour matches `npm start`. This launcher exists because the
 * npm package's own `deno` command forwards no signals: a SIGTERM would orphan the relay.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { runInstall } = require("deno/install_api.cjs") as { runInstall: () => string };
const denoPath = runInstall();
const entry = fileURLToPath(new URL("./parley.ts", import.meta.url));

/** The permissions the relay needs: sockets, the data folder, env, and the native libSQL addon. */
const permissions = ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys"];

const child = spawn(denoPath, ["run", "--node-modules-dir=manual", ...permissions, entry], {
  stdio: "inherit",
  env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => child.kill(signal));
child.on("error", (error) => {
  console.error(`parley: cannot start deno (${denoPath}): ${error.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGTERM" ? 143 : 1)));
