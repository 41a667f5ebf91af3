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
