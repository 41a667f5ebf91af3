/**
 * The page of the React tests (bundled with esbuild by react.test.ts, with React in development
 * mode under StrictMode): one user's provider, the inbox and one conversation through the
 * hooks, rendered as plain DOM. The test drives it through `window.parley` (the latest hook
 * results and a few controls) and reads what was rendered. Every render of the messages is
 * recorded, so the test can check that none was out of order or doubled.
 */
import { createElement as h, StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import {
  ParleyProvider,
  type UseConversationResult,
  useConversation,
  useInbox,
} from "../../client/react/index.ts";

const q = new URLSearchParams(location.search);
const relay = q.get("relay") as string;
const token = q.get("token") as string;
const conversationId = q.get("conversation") as string;
const pageSize = q.get("pageSize") ? Number(q.get("pageSize")) : undefined;

/** Every WebSocket the page opened, to tell which are still open. */
const sockets: WebSocket[] = [];
class TrackedWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    sockets.push(this);
  }
}

interface Harness {
  chat?: UseConversationResult;
  inbox?: ReturnType<typeof useInbox>;
  /** The seqs of the messages of each render. */
  renders: number[][];
  /** Open (or opening) sockets whose URL contains `part`. */
  openSockets(part: string): number;
  /** Sockets ever created whose URL contains `part`. */
  socketsMade(part: string): number;
  /** Shows or hides the conversation component (the provider and the inbox stay). */
  showChat(show: boolean): void;
  /** Points the conversation component at another id (the same component instance). */
  switchTo(id: string): void;
  /** Unmounts everything. */
  unmount(): void;
}

const harness: Harness = {
  renders: [],
  openSockets: (part) => sockets.filter((s) => s.url.includes(part) && s.readyState <= 1).length,
  socketsMade: (part) => sockets.filter((s) => s.url.includes(part)).length,
  showChat: () => undefined,
  switchTo: () => undefined,
  unmount: () => root.unmount(),
};
(window as unknown as { parley: Harness }).parley = harness;

function Chat({ id }: { id: string }) {
  const chat = useConversation(id, pageSize === undefined ? {} : { pageSize });
  harness.renders.push(chat.messages.map((m) => m.seq));
  useEffect(() => {
    harness.chat = chat;
  });
  return h(
    "section",
    { id: "chat", "data-state": chat.state },
    h(
      "ol",
      { id: "messages" },
      chat.messages.map((m) =>
        h(
          "li",
          { key: m.seq, "data-seq": m.seq, "data-deleted": m.deleted ? "" : undefined },
          h("span", { className: "body" }, m.body),
          h("span", { className: "reactions" }, Object.keys(m.reactions).join(" ")),
        ),
      ),
    ),
    h(
      "ul",
      { id: "pending" },
      chat.pending.map((p) => h("li", { key: p.clientMessageId, "data-status": p.status }, p.body)),
    ),
    h("p", { id: "typing" }, chat.typing.join(",")),
    h("p", { id: "presence" }, chat.presence.join(",")),
    h("p", { id: "error" }, chat.error?.code ?? ""),
    h("p", { id: "more", "data-more": String(chat.hasMore) }),
  );
}

function Threads() {
  const inbox = useInbox();
  useEffect(() => {
    harness.inbox = inbox;
  });
  return h(
    "ul",
    { id: "threads", "data-unread": inbox.unread },
    inbox.threads.map((t) => h("li", { key: t.id, "data-unread": t.unread }, t.title ?? t.id)),
  );
}

function App() {
  const [show, setShow] = useState(true);
  const [id, setId] = useState(conversationId);
  harness.showChat = setShow;
  harness.switchTo = setId;
  return h(
    ParleyProvider,
    {
      options: {
        url: relay,
        token,
        WebSocket: TrackedWebSocket,
        reconnectDelay: { minMs: 100, maxMs: 600 },
        retryDelay: { minMs: 100, maxMs: 600 },
        typingThrottleMs: 500,
      },
    },
    h(Threads),
    show ? h(Chat, { id }) : null,
  );
}

const root = createRoot(document.getElementById("root") as HTMLElement);
root.render(h(StrictMode, null, h(App)));
