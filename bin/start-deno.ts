/**
 * `npm run start:deno`: the same relay under the `deno` binary from npm, with the same
 * environment. Deno runs `bin/parley.ts` through its Node compatibility (node:http, ws and the
 * native libSQL driver), so behaviour matches `npm start`. This launcher forwards SIGTERM and
 * SIGINT to Deno and exits with its code.
 */
import { spawn } from "node:child_process";
import { denoRelayCommand } from "./deno-command.ts";

const { command, args } = denoRelayCommand();
const child = spawn(command, args, {
  stdio: "inherit",
  env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => child.kill(signal));
child.on("error", (error) => {
  console.error(`parley: cannot start deno (${command}): ${error.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGTERM" ? 143 : 1)));
