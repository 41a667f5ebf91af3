/**
 * vitest's global setup: empties `test-artifacts/logs/` (and the secrets list) before the run and, after it, greps every
 * relay's log there for every credential the tests recorded (test/helpers/secrets.ts). A
 * credential found in a log fails the run, naming the file and the line.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { logsDir, secretsFile } from "./helpers/secrets.ts";

export function setup(): void {
  rmSync(logsDir, { recursive: true, force: true });
  rmSync(secretsFile, { force: true });
}

export function teardown(): void {
  const leaks = findLeaks();
  if (leaks.length > 0) {
    // vitest reports an error thrown here but still exits 0: the exit code says it too.
    process.exitCode = 1;
    throw new Error(
      `${leaks.length} credential(s) found in the relays' logs (test-artifacts/logs):\n${leaks.slice(0, 20).join("\n")}`,
    );
  }
}

/** Characters of the credentials' alphabets (hex, base64, base64url, JWT dots, key prefixes). */
const WORD = /[A-Za-z0-9+/=_.-]{12,}/g;
const PREFIX = 12;

/** Every place a recorded secret appears in a log: `file:line: <excerpt, secret masked>`. */
export function findLeaks(dir = logsDir, secretsPath = secretsFile): string[] {
  if (!existsSync(secretsPath) || !existsSync(dir)) return [];
  const secrets = [
    ...new Set(
      readFileSync(secretsPath, "utf8")
        .split("\n")
        .filter((s) => s.length > 0),
    ),
  ];
  // Secrets by their first characters: one pass over each log finds candidates, whatever the count.
  const byPrefix = new Map<string, string[]>();
  const odd: string[] = [];
  for (const secret of secrets) {
    const head = secret.slice(0, PREFIX);
    if (/^[A-Za-z0-9+/=_.-]+$/.test(head)) byPrefix.set(head, [...(byPrefix.get(head) ?? []), secret]);
    else odd.push(secret);
  }
  const leaks: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const lines = readFileSync(path.join(dir, name), "utf8").split("\n");
    lines.forEach((line, i) => {
      const found = new Set<string>(odd.filter((s) => line.includes(s)));
      for (const m of line.matchAll(WORD)) {
        const word = m[0];
        for (let at = 0; at + PREFIX <= word.length; at++) {
          for (const secret of byPrefix.get(word.slice(at, at + PREFIX)) ?? []) {
            if (word.startsWith(secret, at) || line.includes(secret)) found.add(secret);
          }
        }
      }
      // A token's signature is recorded too; named once when the whole token is there.
      for (const secret of found) {
        if ([...found].some((other) => other !== secret && other.includes(secret))) continue;
        let excerpt = line;
        for (const s of found) excerpt = excerpt.replaceAll(s, `<secret ${s.slice(0, 6)}…>`);
        excerpt = excerpt.slice(0, 300);
        leaks.push(`test-artifacts/logs/${name}:${i + 1}: ${excerpt}`);
      }
    });
  }
  return leaks;
}
