/**
 * `npm run db:migrate`: applies the drizzle-kit migrations to PARLEY_DB_URL (with
 * PARLEY_DB_AUTH_TOKEN), e.g. a Turso database before `wrangler deploy` or `partykit deploy`.
 * The embedded relay (`npm start`) applies them by itself at start.
 */
import { ConfigError, checkedDbUrl, optionsFromEnv } from "../party/node/config.ts";
import { openStore } from "../store/open.ts";

try {
  const options = await optionsFromEnv(process.env);
  const url = checkedDbUrl(options.dbUrl);
  const store = await openStore({ url, authToken: options.dbAuthToken, sync: options.dbSync ?? "full" });
  await store.close();
  console.log(`parley: migrations applied to ${url.replace(/\/\/[^@/]*@/, "//…@")}`);
} catch (error) {
  console.error(`parley: ${error instanceof ConfigError ? error.message : error}`);
  process.exit(1);
}
