import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * The permissions the relay needs under Deno: sockets, the data folder, env, the native libSQL
 * addon, and running esbuild's binary (it bundles `/widget.js` on first request).
 */
export const DENO_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
  "--allow-run",
] as const;

/**
 * The command that runs `bin/parley.ts` under the `deno` binary from npm. It resolves the
 * binary itself: the npm package's own `deno` command is a Node wrapper that forwards no
 * signals, so stopping it would orphan the relay.
 */
export function denoRelayCommand(): { command: string; args: string[] } {
  const require = createRequire(import.meta.url);
  const { runInstall } = require("deno/install_api.cjs") as { runInstall: () => string };
  const entry = fileURLToPath(new URL("./parley.ts", import.meta.url));
  return { command: runInstall(), args: ["run", "--node-modules-dir=manual", ...DENO_PERMISSIONS, entry] };
}
