/** The shapes the relay speaks (see CONTRACT.md): defined once, in the protocol module. */
export type {
  Change,
  ChangeKind,
  ClientFrame,
  ConversationView as ConversationInfo,
  EditFields,
  HistoryPage,
  LogEntry,
  LogPage,
  Message,
  Reaction,
  RepliesPage,
  SendFields,
  ServerFrame,
  ThreadItem,
  ThreadPage,
} from "../protocol/index.ts";
