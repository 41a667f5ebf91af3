/**
 * Webhooks and pre-send hooks from the relay's configuration: the default app's from
 * PARLEY_WEBHOOK_URL / PARLEY_WEBHOOK_SECRET and PARLEY_HOOK_URL / PARLEY_HOOK_SECRET /
 * PARLEY_HOOK_ON_FAILURE, other apps' from `webhooks` and `hook` in their PARLEY_APPS entry.
 * Read the same way on every runtime; a mistake is one sentence naming the setting.
 */
import { z } from "zod";
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from "../../../protocol/index.ts";
import { secretKeyBytes } from "./signature.ts";
import { checkWebhookUrl } from "./url-policy.ts";

/** An endpoint the configuration declares: kept in the store under a `cfg_` id. */
export interface ConfiguredEndpoint {
  id: string;
  url: string;
  secret: string;
  events: WebhookEventType[];
}

/** What the relay does with a send when the hook times out or fails. */
export type HookFailurePolicy = "accept" | "reject";

export interface HookConfig {
  url: string;
  secret: string;
  onFailure: HookFailurePolicy;
}

export interface AppWebhookConfig {
  webhooks: ConfiguredEndpoint[];
  hook?: HookConfig | undefined;
}

const HOW_TO_MAKE_A_SECRET =
  "make one with: node -e \"console.log('whsec_' + require('crypto').randomBytes(32).toString('base64'))\"";

const secretSchema = z
  .string()
  .refine(
    (s) => secretKeyBytes(s) !== undefined,
    `must be a whsec_ secret (24 to 64 bytes in base64); ${HOW_TO_MAKE_A_SECRET}`,
  );

const urlSchema = z.string().superRefine((raw, ctx) => {
  try {
    checkWebhookUrl(raw, false);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

export const eventTypesSchema = z.array(z.enum(WEBHOOK_EVENT_TYPES)).max(WEBHOOK_EVENT_TYPES.length);

/** The `webhooks` and `hook` entries of one app in PARLEY_APPS. */
export const appWebhookEntries = {
  webhooks: z
    .array(
      z.strictObject({
        id: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,40}$/)
          .optional(),
        url: urlSchema,
        secret: secretSchema,
        events: eventTypesSchema.optional(),
      }),
    )
    .max(20)
    .optional(),
  hook: z
    .strictObject({
      url: urlSchema,
      secret: secretSchema,
      onFailure: z.enum(["accept", "reject"]).optional(),
    })
    .optional(),
};

type AppEntry = {
  webhooks?:
    | Array<{ id?: string | undefined; url: string; secret: string; events?: WebhookEventType[] | undefined }>
    | undefined;
  hook?: { url: string; secret: string; onFailure?: HookFailurePolicy | undefined } | undefined;
};

/** One app's entry (already validated by `appWebhookEntries`) as its webhook configuration. */
export function appWebhookConfig(entry: AppEntry): AppWebhookConfig {
  return {
    webhooks: (entry.webhooks ?? []).map((w, index) => ({
      id: `cfg_${w.id ?? index}`,
      url: w.url,
      secret: w.secret,
      events: w.events ?? [],
    })),
    hook: entry.hook && {
      url: entry.hook.url,
      secret: entry.hook.secret,
      onFailure: entry.hook.onFailure ?? "accept",
    },
  };
}

/** The default app's webhook and hook from the environment; throws Error(one sentence) on a mistake. */
export function defaultAppWebhooks(env: Record<string, string | undefined>): AppWebhookConfig {
  const config: AppWebhookConfig = { webhooks: [] };
  const check = (name: string, schema: z.ZodType, value: string) => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new Error(`${name} ${parsed.error.issues[0]?.message}`);
  };
  // Checked even without a URL: a secret with a typo, or events for an endpoint whose URL
  // variable is misspelt, are refused at start rather than found when a delivery never comes.
  if (env.PARLEY_WEBHOOK_SECRET) check("PARLEY_WEBHOOK_SECRET", secretSchema, env.PARLEY_WEBHOOK_SECRET);
  if (env.PARLEY_HOOK_SECRET) check("PARLEY_HOOK_SECRET", secretSchema, env.PARLEY_HOOK_SECRET);
  if (env.PARLEY_WEBHOOK_EVENTS && !env.PARLEY_WEBHOOK_URL)
    throw new Error(
      "PARLEY_WEBHOOK_EVENTS is set but PARLEY_WEBHOOK_URL is not: set the URL, or unset the events",
    );
  if (env.PARLEY_WEBHOOK_URL) {
    if (!env.PARLEY_WEBHOOK_SECRET)
      throw new Error(`PARLEY_WEBHOOK_URL needs PARLEY_WEBHOOK_SECRET; ${HOW_TO_MAKE_A_SECRET}`);
    check("PARLEY_WEBHOOK_URL", urlSchema, env.PARLEY_WEBHOOK_URL);
    check("PARLEY_WEBHOOK_SECRET", secretSchema, env.PARLEY_WEBHOOK_SECRET);
    const events = (env.PARLEY_WEBHOOK_EVENTS ?? "")
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    const parsedEvents = eventTypesSchema.safeParse(events);
    if (!parsedEvents.success)
      throw new Error(`PARLEY_WEBHOOK_EVENTS must list event types among ${WEBHOOK_EVENT_TYPES.join(", ")}`);
    config.webhooks.push({
      id: "cfg_env",
      url: env.PARLEY_WEBHOOK_URL,
      secret: env.PARLEY_WEBHOOK_SECRET,
      events: parsedEvents.data,
    });
  }
  // Checked even without a hook URL: a typo is refused at start, not found when the URL is set.
  const onFailure = env.PARLEY_HOOK_ON_FAILURE || "accept";
  if (onFailure !== "accept" && onFailure !== "reject")
    throw new Error(`PARLEY_HOOK_ON_FAILURE must be "accept" or "reject", got "${onFailure}"`);
  if (env.PARLEY_HOOK_URL) {
    const secret = env.PARLEY_HOOK_SECRET ?? env.PARLEY_WEBHOOK_SECRET;
    if (!secret)
      throw new Error(
        `PARLEY_HOOK_URL needs PARLEY_HOOK_SECRET (or PARLEY_WEBHOOK_SECRET); ${HOW_TO_MAKE_A_SECRET}`,
      );
    check("PARLEY_HOOK_URL", urlSchema, env.PARLEY_HOOK_URL);
    check(env.PARLEY_HOOK_SECRET ? "PARLEY_HOOK_SECRET" : "PARLEY_WEBHOOK_SECRET", secretSchema, secret);
    config.hook = { url: env.PARLEY_HOOK_URL, secret, onFailure };
  }
  return config;
}
