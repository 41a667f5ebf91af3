/**
 * The tenants a relay serves, read the same way on every runtime: the `PARLEY_APPS` JSON (or
 * file), each app's credentials checked, and each app's webhooks and pre-send hook. Mistakes
 * are thrown as `Error(one sentence)`; each runtime wraps them in its own kind of refusal.
 */
import { z } from "zod";
import type { AppCredentials } from "./auth.ts";
import { type AppWebhookConfig, appWebhookConfig, appWebhookEntries } from "./webhooks/config.ts";

const appSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  secret: z.string(),
  serverKey: z.string().min(16),
  ...appWebhookEntries,
});

/** One entry of `PARLEY_APPS`, validated. */
export type AppEntry = z.infer<typeof appSchema>;

/** Parses the `PARLEY_APPS` JSON; `source` names where it came from in the error. */
export function parseApps(raw: string, source: string): AppEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`${source} is not valid JSON`);
  }
  const parsed = z.array(appSchema).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${source} must be a JSON array of { id, secret, serverKey, webhooks?, hook? }: ${issue?.path.join(".")} ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** Refuses short secrets, an app configured twice and a server key shared by two apps. */
export function checkAppCredentials(apps: readonly AppCredentials[]): void {
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const app of apps) {
    if (new TextEncoder().encode(app.secret).byteLength < 32)
      throw new Error(`the secret of app "${app.id}" must be at least 32 bytes (PARLEY_SECRET for default)`);
    // As long as PARLEY_APPS asks of an app's key: a short key is guessed.
    if (app.serverKey.length < 16)
      throw new Error(
        `the server key of app "${app.id}" must be at least 16 characters (PARLEY_SERVER_KEY for default)`,
      );
    if (ids.has(app.id)) throw new Error(`app "${app.id}" is configured twice`);
    if (keys.has(app.serverKey)) throw new Error(`app "${app.id}" reuses another app's server key`);
    ids.add(app.id);
    keys.add(app.serverKey);
  }
}

/** What an app declares about its back end (the default app's comes from PARLEY_WEBHOOK_*). */
export interface AppBackEnd {
  id: string;
  webhooks?: unknown;
  hook?: unknown;
}

/** Every app's webhooks and hook, checked; apps that declare neither are absent. */
export function appsWebhookConfig(entries: readonly AppBackEnd[]): Map<string, AppWebhookConfig> {
  const configs = new Map<string, AppWebhookConfig>();
  for (const entry of entries) {
    const parsed = z.object(appWebhookEntries).safeParse({ webhooks: entry.webhooks, hook: entry.hook });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`app "${entry.id}": ${issue?.path.join(".")} ${issue?.message}`);
    }
    const config = appWebhookConfig(parsed.data);
    if (config.webhooks.length > 0 || config.hook) configs.set(entry.id, config);
  }
  return configs;
}
