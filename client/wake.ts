/**
 * Signals that a dead connection may work again: the browser's `online` event and a hidden tab
 * becoming visible. Where they do not exist (Node, Deno) nothing subscribes.
 */
import { Reason } from "./reasons.ts";

/** What the SDK needs of `window`. */
export interface WindowLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** What the SDK needs of `document`. */
export interface DocumentLike extends WindowLike {
  readonly visibilityState: string;
}

export interface WakeTargets {
  window?: WindowLike | null;
  document?: DocumentLike | null;
}

/** The platform's window and document, when there are any. */
export function defaultWakeTargets(): WakeTargets {
  const g = globalThis as { window?: WindowLike; document?: DocumentLike };
  return { window: g.window ?? null, document: g.document ?? null };
}

/** Calls `wake` on `online` and on `visibilitychange` to visible; returns the unsubscriber. */
export function subscribeWake(targets: WakeTargets, wake: (reason: Reason) => void): () => void {
  const win = targets.window;
  const doc = targets.document;
  const onOnline = () => wake(Reason.NetworkOnline);
  const onVisibility = () => {
    if (doc?.visibilityState === "visible") wake(Reason.PageVisible);
  };
  win?.addEventListener("online", onOnline);
  doc?.addEventListener("visibilitychange", onVisibility);
  return () => {
    win?.removeEventListener("online", onOnline);
    doc?.removeEventListener("visibilitychange", onVisibility);
  };
}
