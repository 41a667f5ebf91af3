/** The Worker's bindings and variables. */
import type { EdgeVars } from "../edge/config.ts";
import type { ConversationServer } from "./conversation-server.ts";
import type { InboxServer } from "./inbox-server.ts";

export interface Env extends EdgeVars {
  Conversation: DurableObjectNamespace<ConversationServer>;
  Inbox: DurableObjectNamespace<InboxServer>;
  [variable: string]: unknown;
}
