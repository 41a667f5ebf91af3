/**
 * What a change does to a message's state, as a pure function: the new state and the change
 * entry, nothing (a no-op appends no entry), or a refusal. The commit pipeline runs it when it
 * plans a batch, on the state as it will be after every earlier entry.
 */
import { canonical } from "../content.ts";
import { ParleyError } from "../errors.ts";
import type { Change, ChangeKind, Message, Reaction } from "../types.ts";

/** Who makes a change: a member, or the app's back end with its server key. */
export type Actor = { userId: string; server?: false } | { server: true; userId?: undefined };

export interface ChangeRequest {
  kind: ChangeKind;
  target: number;
  actor: Actor;
  /** edit: the new body. */
  body?: string | undefined;
  /** edit: the new meta (null removes it). */
  meta?: Record<string, unknown> | null | undefined;
  /** react / unreact. */
  key?: string | undefined;
}

export interface ReactionLimits {
  /** Distinct reaction keys on one message. */
  reactionKeysPerMessage: number;
  /** Reaction keys one user may have on one message. */
  reactionKeysPerUser: number;
}

export type ChangeOutcome =
  | { kind: "noop" }
  | { kind: "changed"; message: Message; change: Omit<Change, "seq"> };

const deletedRefusal = () => new ParleyError("conflict", "the message was deleted");

const sameMeta = (a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined) =>
  a === undefined || b === undefined ? a === b : canonical(a) === canonical(b);

/** Applies one change request to a message's current state at time `at`. */
export function applyChange(
  state: Message,
  request: ChangeRequest,
  at: string,
  limits: ReactionLimits,
): ChangeOutcome {
  const userId = request.actor.server ? null : request.actor.userId;
  const base = { target: state.seq, kind: request.kind, userId, at };
  switch (request.kind) {
    case "edit": {
      if (!request.actor.server && request.actor.userId !== state.senderId)
        throw new ParleyError("forbidden", "only the sender may edit a message");
      if (state.deleted) throw deletedRefusal();
      const body = request.body ?? state.body;
      const meta = request.meta === undefined ? state.meta : (request.meta ?? undefined);
      if (body === state.body && sameMeta(meta, state.meta)) return { kind: "noop" };
      const { meta: _old, ...rest } = state;
      const message: Message = { ...rest, body, editedAt: at, ...(meta === undefined ? {} : { meta }) };
      const change: Omit<Change, "seq"> = { ...base };
      if (request.body !== undefined) change.body = request.body;
      if (request.meta !== undefined) change.meta = request.meta;
      return { kind: "changed", message, change };
    }
    case "delete": {
      if (!request.actor.server && request.actor.userId !== state.senderId)
        throw new ParleyError("forbidden", "only the sender or the app's back end may delete a message");
      if (state.deleted) return { kind: "noop" };
      const { meta: _meta, ...rest } = state;
      const message: Message = { ...rest, body: "", deleted: true, reactions: {} };
      return { kind: "changed", message, change: base };
    }
    case "react":
    case "unreact":
      return react(state, request, base, limits);
  }
}

function react(
  state: Message,
  request: ChangeRequest,
  base: Omit<Change, "seq">,
  limits: ReactionLimits,
): ChangeOutcome {
  const userId = request.actor.userId;
  const key = request.key;
  if (request.actor.server || userId === undefined)
    throw new ParleyError("forbidden", "reactions are a member's");
  if (key === undefined) throw new ParleyError("bad_request", "a reaction needs a key");
  // Own keys only: a key is any short text, and "constructor" or "__proto__" must not reach
  // Object.prototype (reading it threw, a 500; assigning "__proto__" replaced the prototype).
  const current = Object.hasOwn(state.reactions, key) ? state.reactions[key] : undefined;
  const has = current?.users.includes(userId) ?? false;
  if (request.kind === "unreact") {
    if (!has || !current) return { kind: "noop" };
    const users = current.users.filter((u) => u !== userId);
    const kept: [string, Reaction][] = Object.entries(state.reactions).filter(([k]) => k !== key);
    if (users.length > 0) kept.push([key, { count: users.length, users }]);
    const reactions: Record<string, Reaction> = Object.fromEntries(kept);
    return { kind: "changed", message: { ...state, reactions }, change: { ...base, key } };
  }
  if (state.deleted) throw deletedRefusal();
  if (has) return { kind: "noop" };
  if (!current && Object.keys(state.reactions).length >= limits.reactionKeysPerMessage)
    throw new ParleyError(
      "conflict",
      `a message has at most ${limits.reactionKeysPerMessage} different reactions`,
    );
  const mine = Object.values(state.reactions).filter((r) => r.users.includes(userId)).length;
  if (mine >= limits.reactionKeysPerUser)
    throw new ParleyError(
      "conflict",
      `one person has at most ${limits.reactionKeysPerUser} reactions on a message`,
    );
  const users = [...(current?.users ?? []), userId];
  const reactions = { ...state.reactions, [key]: { count: users.length, users } };
  return { kind: "changed", message: { ...state, reactions }, change: { ...base, key } };
}
