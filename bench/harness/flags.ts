import { type ParseArgsConfig, parseArgs } from "node:util";

/**
 * A bench script's flags, parsed: an unknown flag or a missing value ends the run with exit 2 and
 * one line that names the script and the flag (`parseArgs` throws with a stack trace otherwise).
 */
export function parseFlags<T extends ParseArgsConfig>(
  script: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    console.error(`${script}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
}

/**
 * A bench script's checks of its own flags: a bad flag ends the run with exit 2 and one line that
 * names the script (`bench:storm: --members wants an integer from 1 to 1000`).
 */
export function flagChecks(script: string) {
  const fail = (message: string): never => {
    console.error(`${script}: ${message}`);
    process.exit(2);
  };
  /** `raw` as an integer from `min` to `max`; anything else fails the run. */
  const int = (raw: string | undefined, name: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} wants an integer from ${min} to ${max}`);
    return n;
  };
  return { fail, int };
}
