/**
 * The pre-send hook: before a send (or a member's edit) gets its seq, the app's hook URL receives
 * it (signed like a webhook) and answers `{}` (accept), `{ body?, meta? }` (accept, rewritten) or
 * `{ reject: { message } }`. No answer within `hookTimeoutMs`, a non-2xx or an answer that is
 * not one of those is a failure, and the app's `onFailure` decides: accept the send as it is
 * (default), or refuse it with 503 `hook_unavailable`. A call only ever holds its own send:
 * other sends, of this room and of others, go on meanwhile.
 */
import { z } from "zod";
import type { HookRequest } from "../../../protocol/index.ts";
import { canonical } from "../../core/content.ts";
import { ParleyError } from "../../core/errors.ts";
import type { Limits } from "../../core/limits.ts";
import { type OnError, urlForLog } from "../../core/log.ts";
import type { EditedContent, ScreenVerdict, SendScreen } from "../../core/room/screening.ts";
import type { Message, SendInput } from "../../core/types.ts";
import { checkBodySize, checkMetaSize, unstorableText } from "../../core/validation.ts";
import type { HookConfig } from "./config.ts";
import { type WebhookHashes, webCryptoHashes } from "./hashes.ts";
import { signedHeaders } from "./signature.ts";
import type { WebhookTransport } from "./transport.ts";

/** A hook's answer is small; more than this is not an answer. */
const MAX_ANSWER_BYTES = 64 * 1024;

const verdictSchema = z.union([
  z.strictObject({ reject: z.strictObject({ message: z.string().max(500).optional() }) }),
  z.strictObject({
    body: z.string().optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
  }),
]);

const encoder = new TextEncoder();

/**
 * A call's `webhook-id`: the same send (app, conversation, sender, key), or the same edit (app,
 * conversation, seq, content), always has the same one.
 */
async function hookCallId(kind: "send" | "edit", parts: readonly string[]): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(parts.join("\u0000")));
  let binary = "";
  for (const byte of new Uint8Array(digest).subarray(0, 18)) binary += String.fromCharCode(byte);
  return `${kind}_${btoa(binary).replaceAll("+", "-").replaceAll("/", "_")}`;
}

/** A hook's answer, checked: refuse, or accept with the content it rewrote (if any). */
type HookAnswer =
  | { accept: false; message: string }
  | { accept: true; body?: string | undefined; meta?: Record<string, unknown> | undefined };

export interface HookDependencies {
  /** Each app's hook, by app id (apps without one are absent). */
  hooks: ReadonlyMap<string, HookConfig>;
  transport: WebhookTransport;
  limits: Limits;
  now: () => number;
  onError: OnError;
  /** The signature's HMAC (default: WebCrypto; Node passes node:crypto, see hashes.ts). */
  hashes?: WebhookHashes | undefined;
}

export class PreSendHooks implements SendScreen {
  constructor(private readonly deps: HookDependencies) {}

  screen(
    app: string,
    conversationId: string,
    senderId: string,
    input: SendInput,
  ): Promise<ScreenVerdict> | undefined {
    return this.#screened(app, conversationId, async (hook) => {
      const request: HookRequest = {
        type: "message.sending",
        app,
        conversationId,
        timestamp: new Date(this.deps.now()).toISOString(),
        data: { senderId, clientMessageId: input.clientMessageId, body: input.body },
      };
      if (input.meta !== undefined) request.data.meta = input.meta;
      if (input.replyTo !== undefined) request.data.replyTo = input.replyTo;
      const id = await hookCallId("send", [app, conversationId, senderId, input.clientMessageId]);
      const answer = await this.#ask(hook, request, id);
      if (!answer.accept) return answer;
      if (answer.body === undefined && answer.meta === undefined) return { accept: true };
      const rewrite: SendInput = { ...input };
      if (answer.body !== undefined) rewrite.body = answer.body;
      if (answer.meta !== undefined) rewrite.meta = answer.meta;
      return { accept: true, rewrite };
    });
  }

  screenEdit(
    app: string,
    conversationId: string,
    message: Message,
    edited: EditedContent,
  ): Promise<ScreenVerdict<EditedContent>> | undefined {
    return this.#screened(app, conversationId, async (hook) => {
      const request: HookRequest = {
        type: "message.editing",
        app,
        conversationId,
        timestamp: new Date(this.deps.now()).toISOString(),
        data: { senderId: message.senderId, seq: message.seq, body: edited.body },
      };
      if (edited.meta !== undefined) request.data.meta = edited.meta;
      const content = canonical({ body: edited.body, meta: edited.meta ?? null });
      const id = await hookCallId("edit", [app, conversationId, String(message.seq), content]);
      const answer = await this.#ask(hook, request, id);
      if (!answer.accept) return answer;
      if (answer.body === undefined && answer.meta === undefined) return { accept: true };
      const meta = answer.meta ?? edited.meta;
      return { accept: true, rewrite: { body: answer.body ?? edited.body, ...(meta ? { meta } : {}) } };
    });
  }

  /** Runs a screening with the app's hook (undefined: none) and applies its failure policy. */
  #screened<T>(
    app: string,
    conversationId: string,
    call: (hook: HookConfig) => Promise<ScreenVerdict<T>>,
  ): Promise<ScreenVerdict<T>> | undefined {
    const hook = this.deps.hooks.get(app);
    if (!hook) return undefined;
    return call(hook).catch((error: unknown): ScreenVerdict<T> => {
      this.deps.onError(error, `pre-send hook of ${app} (${urlForLog(hook.url)}) failed`, {
        app,
        conversationId,
      });
      if (hook.onFailure === "accept") return { accept: true };
      throw new ParleyError("hook_unavailable", "the app's pre-send hook did not answer; retry shortly", 1);
    });
  }

  /** Calls the hook; throws on any failure (the policy is applied by `#screened`). */
  async #ask(hook: HookConfig, request: HookRequest, id: string): Promise<HookAnswer> {
    const body = JSON.stringify(request);
    const answer = await this.deps.transport({
      url: hook.url,
      headers: {
        "content-type": "application/json",
        "user-agent": "Parley-Hook/1",
        ...(await signedHeaders(
          hook.secret,
          id,
          Math.floor(this.deps.now() / 1000),
          body,
          (this.deps.hashes ?? webCryptoHashes).sign,
        )),
      },
      body,
      timeoutMs: this.deps.limits.hookTimeoutMs,
      // The operator configured this URL: it may be on their own network.
      publicOnly: false,
      readBodyBytes: MAX_ANSWER_BYTES,
    });
    if (answer.status < 200 || answer.status >= 300)
      throw new Error(`the hook answered HTTP ${answer.status}`);
    const text = answer.body?.trim() ?? "";
    let parsed: unknown = {};
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new Error("the hook's answer is not JSON");
      }
    }
    const verdict = verdictSchema.safeParse(parsed);
    if (!verdict.success)
      throw new Error(
        `the hook's answer is not {}, { body?, meta? } or { reject }: ${verdict.error.issues[0]?.message}`,
      );
    if ("reject" in verdict.data) return { accept: false, message: verdict.data.reject.message ?? "" };
    const { body: newBody, meta } = verdict.data;
    if (newBody !== undefined) {
      const problem = unstorableText(newBody);
      if (problem) throw new Error(`the hook's body ${problem}`);
      checkBodySize(newBody, this.deps.limits.maxMessageBytes);
    }
    if (meta !== undefined) checkMetaSize(meta, this.deps.limits.maxMetaBytes);
    return { accept: true, body: newBody, meta };
  }
}
