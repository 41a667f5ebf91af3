/**
 * The pre-send hook, as a room sees it: a send, and a member's edit, is screened before it gets
 * a seq. The room keeps each send under screening by its idempotency key, so a retry that
 * arrives meanwhile joins it instead of calling the hook twice (or being stored twice).
 */
import { CONFLICTING_KEY, idempotencyKey, sameContent } from "../content.ts";
import { ParleyError } from "../errors.ts";
import type { Message, SendInput } from "../types.ts";
import type { SendResult } from "./commit-pipeline.ts";

/** The hook's decision: store the send (maybe rewritten), or refuse it (422 `rejected`). */
export type ScreenVerdict<T = SendInput> = { accept: true; rewrite?: T } | { accept: false; message: string };

/** What an edit would make of a message: its whole new content, as the hook judges it. */
export interface EditedContent {
  body: string;
  meta?: Record<string, unknown> | undefined;
}

/**
 * The app's pre-send hook. `screen` returns undefined, synchronously, when the app has none:
 * most sends never wait for anything here.
 */
export interface SendScreen {
  screen(
    app: string,
    conversationId: string,
    senderId: string,
    input: SendInput,
  ): Promise<ScreenVerdict> | undefined;
  /**
   * A member's edit of `message` (its state now), as `edited` (the content it would have): a
   * back end's own edits (server key) are not screened. Undefined when the app has no hook.
   */
  screenEdit(
    app: string,
    conversationId: string,
    message: Message,
    edited: EditedContent,
  ): Promise<ScreenVerdict<EditedContent>> | undefined;
}

/** Sends under screening, by idempotency key. */
export class Screening {
  #sends = new Map<string, { input: SendInput; result: Promise<SendResult> }>();

  /** The answer for a key under screening: the same send's result (not created), or 409. */
  known(senderId: string, input: SendInput): Promise<SendResult> | undefined {
    const screening = this.#sends.get(idempotencyKey(senderId, input.clientMessageId));
    if (!screening) return undefined;
    if (!sameContent(screening.input, input)) throw new ParleyError("conflict", CONFLICTING_KEY);
    return screening.result.then(({ message }) => ({ message, created: false }));
  }

  /** Holds `result` (the send's whole way: hook, then commit) under its key until it settles. */
  track(senderId: string, input: SendInput, result: Promise<SendResult>): Promise<SendResult> {
    const key = idempotencyKey(senderId, input.clientMessageId);
    const entry = { input, result };
    this.#sends.set(key, entry);
    const forget = () => {
      if (this.#sends.get(key) === entry) this.#sends.delete(key);
    };
    result.then(forget, forget);
    return result;
  }

  get size(): number {
    return this.#sends.size;
  }
}

/** The refusal a sender gets when the hook rejects their message. */
export const rejection = (message: string) =>
  new ParleyError("rejected", message || "the app refused this message");
