/**
 * Every credential a test uses (server keys, signing secrets, minted and forged tokens, webhook
 * secrets) is recorded here by the helper that makes or sends it, and every relay a test starts
 * writes its output under `test-artifacts/logs/`. After the run, `test/log-secrets.setup.ts`
 * greps those logs for every recorded secret: one found is a leak, and fails the run.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const artifactsDir = path.join(root, "test-artifacts");
export const logsDir = path.join(artifactsDir, "logs");
export const secretsFile = path.join(artifactsDir, "secrets.txt");

/** Shorter strings would match by chance (a user id, a word); no credential here is that short. */
const MIN_LENGTH = 12;

/** Only under vitest: the bench and the soak scripts use the same helpers and keep no artifacts. */
const recording = () => process.env.VITEST !== undefined;

const seen = new Set<string>();

/** Records credentials to look for in the logs (one per line; duplicates once per process). */
export function recordSecret(...values: Array<string | null | undefined>): void {
  if (!recording()) return;
  const fresh = values.filter(
    (v): v is string => typeof v === "string" && v.length >= MIN_LENGTH && !v.includes("\n") && !seen.has(v),
  );
  // A JWT's signature alone is a leak too (it is what makes the token): look for it as well.
  for (const v of [...fresh]) {
    const signature = /^[\w-]+\.[\w-]+\.([\w-]+)$/.exec(v)?.[1];
    if (signature && signature.length >= MIN_LENGTH && !seen.has(signature)) fresh.push(signature);
  }
  if (fresh.length === 0) return;
  for (const v of fresh) seen.add(v);
  mkdirSync(artifactsDir, { recursive: true });
  // O_APPEND: lines from parallel workers do not interleave.
  appendFileSync(secretsFile, `${fresh.join("\n")}\n`);
}

/** The `token` query parameter of a URL or path, if any. */
export function recordTokenIn(url: string): void {
  const token = new URL(url, "http://x").searchParams.get("token");
  if (token) recordSecret(token);
}

/** The credential of an `Authorization` header among `headers`, if any. */
export function recordAuthHeader(headers: Record<string, string> | undefined): void {
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === "authorization") recordSecret(v.replace(/^Bearer\s+/i, ""));
  }
}

/** Credentials in a relay's environment: secrets, keys, tokens, and the apps' (`PARLEY_APPS`). */
export function recordEnvSecrets(env: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (/SECRET|KEY|TOKEN/.test(k)) recordSecret(v);
    if (k === "PARLEY_APPS") {
      try {
        for (const app of JSON.parse(v) as Array<Record<string, unknown>>) {
          for (const field of ["secret", "serverKey"]) {
            if (typeof app?.[field] === "string") recordSecret(app[field] as string);
          }
          for (const hook of [app?.hook, ...(Array.isArray(app?.webhooks) ? app.webhooks : [])]) {
            const secret = (hook as { secret?: unknown } | undefined)?.secret;
            if (typeof secret === "string") recordSecret(secret);
          }
        }
      } catch {
        // Not JSON: a test of the configuration's refusal; nothing to record.
      }
    }
  }
}

/** Credentials a relay answered with (`POST /v1/tokens`, `/v1/dev/token`, a new webhook's secret). */
export function recordSecretsInAnswer(json: unknown, depth = 0): void {
  if (json === null || typeof json !== "object" || depth > 2) return;
  for (const [key, value] of Object.entries(json)) {
    if ((key === "token" || key === "secret") && typeof value === "string") recordSecret(value);
    else if (typeof value === "object") recordSecretsInAnswer(value, depth + 1);
  }
}

let files = 0;

/** A new file under `test-artifacts/logs/` for one relay process's stdout and stderr, or null. */
export function newLogFile(runtime: string): string | null {
  if (!recording()) return null;
  mkdirSync(logsDir, { recursive: true });
  // The test file running now, as vitest's worker state knows it (named in the failure).
  const worker = (globalThis as { __vitest_worker__?: { filepath?: string } }).__vitest_worker__;
  const test = path.basename(worker?.filepath ?? "test", ".ts");
  return path.join(logsDir, `${test}-${runtime}-${process.pid}-${++files}.log`);
}
