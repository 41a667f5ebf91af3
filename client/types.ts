/** The shapes the relay speaks (see CONTRACT.md): defined once, in the protocol module. */
export type {
  ClientFrame,
  ConversationView as ConversationInfo,
  HistoryPage,
  Message,
  ServerFrame,
  ThreadItem,
  ThreadPage,
} from "../protocol/index.ts";
