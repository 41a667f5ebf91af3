/**
 * `npm run db:backup -- <file>`: a consistent copy of the relay's local libSQL database
 * (PARLEY_DB_URL, default `file:./data/parley.db`) taken while the relay runs. `VACUUM INTO`
 * reads one snapshot in a read transaction, which WAL mode lets run beside the relay's commits
 * (it neither blocks them nor sees half of one), and writes a compact new file: every message
 * acknowledged before the backup began is in it. The copy is then checked with
 * `PRAGMA integrity_check`. A remote libSQL (Turso, sqld) has its own backups; this refuses it.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createClient } from "@libsql/client";
import { localDbPath } from "../store/open.ts";

function fail(message: string): never {
  console.error(`parley: ${message}`);
  process.exit(1);
}

const target = process.argv[2];
if (!target || target.startsWith("-")) fail("usage: npm run db:backup -- <backup file>");
const url = process.env.PARLEY_DB_URL || "file:./data/parley.db";
const source = localDbPath(url);
if (!source) fail("db:backup copies a local file: database; back up a remote libSQL with its own tools");
if (!existsSync(source)) fail(`there is no database at ${source}`);
const out = resolve(target);
if (existsSync(out)) fail(`${out} exists already; choose a new file`);
if (!existsSync(dirname(out)))
  fail(`there is no folder ${dirname(out)}; create it first (mkdir -p ${dirname(out)})`);

const db = createClient({ url: `file:${source}` });
try {
  // A busy writer holds its lock only for a commit; wait for it rather than fail.
  await db.execute("PRAGMA busy_timeout = 10000");
  await db.execute({ sql: "VACUUM INTO ?", args: [out] });
} catch (error) {
  fail(`the backup failed: ${error instanceof Error ? error.message : error}`);
} finally {
  db.close();
}

const copy = createClient({ url: `file:${out}` });
try {
  const check = await copy.execute("PRAGMA integrity_check");
  const verdict = check.rows.map((row) => String(row[0])).join("; ");
  if (verdict !== "ok") fail(`the backup at ${out} failed its integrity check: ${verdict}`);
  const count = async (table: string) =>
    Number((await copy.execute(`SELECT count(*) FROM ${table}`)).rows[0]?.[0]);
  const [conversations, messages] = [await count("conversations"), await count("messages")];
  console.log(
    `parley: backed up ${source} to ${out} (${conversations} conversations, ${messages} messages; integrity ok)`,
  );
} finally {
  copy.close();
}
