/**
 * The Worker's bindings and variables. The object namespaces are typed by what their callers
 * use (not by the classes, which import this file: that would be an import cycle).
 */
import type { EdgeVars } from "../edge/config.ts";
import type { WireResult } from "../host/wire-errors.ts";

/**
 * What the Worker calls on a conversation object (`ConversationServer`). Each call carries the
 * object's name (see object-name.ts).
 */
export interface ConversationRpc extends Rpc.DurableObjectBranded {
  rpc(name: string, method: string, args: unknown[]): Promise<WireResult<unknown>>;
}

/** What rooms and the Worker call on an inbox object (`InboxServer`), with its name. */
export interface InboxRpc extends Rpc.DurableObjectBranded {
  /** One thread changed; true while the inbox listens. */
  deliver(name: string, conversationId: string, frameText: string): Promise<boolean>;
  /** Registers with the user's rooms before a socket is forwarded. */
  prepare(name: string): Promise<void>;
}

export interface Env extends EdgeVars {
  Conversation: DurableObjectNamespace<ConversationRpc>;
  Inbox: DurableObjectNamespace<InboxRpc>;
  [variable: string]: unknown;
}
