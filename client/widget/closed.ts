/**
 * What the widget says when a conversation stopped for good, and what it offers. Only actions
 * that can help are offered: none when the user is not a member or the conversation does not
 * exist (the host page may add its own words, `askToJoin`), a fresh sign-in when the token was
 * refused, a reconnect otherwise. The composer is off in every one of these, with its reason.
 */
import type { Strings } from "./strings.ts";

export interface ClosedState {
  /** The banner's words. */
  text: string;
  /** Why sending is off (shown in the composer's place). */
  composer: string;
  /** The one action offered: `reopen` (this conversation) or `restart` (a new token). */
  action?: "reopen" | "restart";
}

export function closedState(reason: string | undefined, s: Strings): ClosedState {
  switch (reason) {
    case "forbidden":
      return { text: [s.forbidden, s.askToJoin].filter(Boolean).join(" "), composer: s.sendForbidden };
    case "not_found":
      return { text: s.notFound, composer: s.sendNotFound };
    case "unauthorized":
      return { text: s.unauthorized, composer: s.sendSignIn, action: "restart" };
    default:
      return { text: s.closed, composer: s.sendClosed, action: "reopen" };
  }
}
