/**
 * `npm run start:deno`: the same relay under the `deno` binary from npm, with the same
 * environment. Deno runs `bin/parley.ts` through its Node compatibility (node:http, ws and the
 * native libSQL driver), so behaviour matches `npm start`. This launcher forwards SIGTERM and
 * SIGINT to Deno and exits with its code.
 *
 * Deno runs through `bin/lifeline.mjs` (as the edge dev servers do): if this launcher dies
 * without a chance to forward anything (SIGKILL, an OOM kill, a closed terminal), the lifeline
 * sees its pipe close and stops Deno, so no relay is left holding the port and the database.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { denoRelayCommand } from "./deno-command.ts";

const lifeline = fileURLToPath(new URL("./lifeline.mjs", import.meta.url));
const { command, args } = denoRelayCommand();
const child = spawn(process.execPath, [lifeline, command, ...args], {
  // The lifeline's stdin is the pipe it watches: never written, it closes when we die.
  stdio: ["pipe", "inherit", "inherit"],
  // Its own session: a signal to our terminal's process group reaches it only through us.
  detached: true,
  env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
});
child.stdin?.on("error", () => undefined);
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => child.kill(signal));
child.on("error", (error) => {
  console.error(`parley: cannot start deno (${command}): ${error.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGTERM" ? 143 : 1)));
