/**
 * Parley: an embeddable realtime chat relay. Embed it in a Node back end with `createRelay`,
 * or run it with `npm start`.
 */
export { createApi } from "./api/app.ts";
export type { Connection, ConnectionIdentity } from "./party/core/connection.ts";
export { ConversationRoom } from "./party/core/conversation-room.ts";
export { CloseCode, ParleyError } from "./party/core/errors.ts";
export { defaultLimits, type Limits } from "./party/core/limits.ts";
export type { LogFields, Logger, LogLevel } from "./party/core/log.ts";
export type { Store } from "./party/core/store.ts";
export type { ConversationRecord, Message, ThreadItem } from "./party/core/types.ts";
export type { AppCredentials, Principal } from "./party/host/auth.ts";
export { Authenticator } from "./party/host/auth.ts";
export { RelayHub } from "./party/host/local-directory.ts";
export {
  ConfigError,
  optionsFromEnv,
  type RelayConfig,
  type RelayOptions,
  resolveConfig,
} from "./party/node/config.ts";
export { createRelay, type Relay } from "./party/node/relay.ts";
export { openStore } from "./store/open.ts";
