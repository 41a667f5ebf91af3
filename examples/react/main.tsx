/**
 * The React example: the thread list of one user (`?user=alice`) beside the open
 * conversation, with sends, edits, deletions, reactions, typing, presence and unread counts,
 * all through `parley/react`. Served by `serve.ts` (`npm run example:react`).
 */
import { type FormEvent, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { ParleyProvider, useConversation, useInbox } from "../../client/react/index.ts";

const relay = (window as unknown as { PARLEY_URL: string }).PARLEY_URL;
const user = new URLSearchParams(location.search).get("user") || "alice";

/** The dev relay's token endpoint (dev mode only: in production your back end signs tokens). */
async function devToken(): Promise<string> {
  const res = await fetch(`${relay}/v1/dev/token?user=${encodeURIComponent(user)}`);
  if (!res.ok) throw new Error(`dev token: ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

function Threads({ open, onOpen }: { open: string | undefined; onOpen: (id: string) => void }) {
  const { threads, loaded, state, error } = useInbox();
  useEffect(() => {
    if (!open && threads[0]) onOpen(threads[0].id);
  }, [open, threads, onOpen]);
  // Until the list comes, say why it has not: a relay that cannot be reached is the usual reason.
  if (!loaded)
    return (
      <nav>
        {state === "reconnecting" || error
          ? `Cannot reach the relay at ${relay}${error ? ` (${error.code})` : ""}. Is it running? Retrying…`
          : "Loading…"}
      </nav>
    );
  return (
    <nav>
      {threads.map((t) => (
        <button
          key={t.id}
          type="button"
          data-id={t.id}
          aria-current={t.id === open || undefined}
          onClick={() => onOpen(t.id)}
        >
          <span>{t.title || t.id}</span>
          {t.unread > 0 && <span className="badge">{t.unread}</span>}
        </button>
      ))}
    </nav>
  );
}

function Conversation({ id }: { id: string }) {
  const chat = useConversation(id);
  const [draft, setDraft] = useState("");
  const last = chat.messages.at(-1)?.seq;
  // Read while the page is visible: the thread's unread count drops for this user.
  useEffect(() => {
    if (last !== undefined && document.visibilityState === "visible") void chat.markRead(last);
  }, [last, chat.markRead]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (draft.trim()) void chat.send(draft.trim());
    setDraft("");
  };
  const others = (users: string[]) => users.filter((u) => u !== user).join(", ");
  return (
    <section data-state={chat.state}>
      <ol>
        {chat.hasMore && (
          <li>
            <button type="button" onClick={() => void chat.loadEarlier()}>
              Load earlier
            </button>
          </li>
        )}
        {chat.messages.map((m) => (
          <li key={m.seq} data-seq={m.seq}>
            <span className="who">{m.senderId}</span>
            <span className="body">{m.deleted ? <i>deleted</i> : m.body}</span>
            {m.editedAt && !m.deleted && <span className="meta">edited</span>}
            {Object.entries(m.reactions).map(([key, r]) => (
              <button
                key={key}
                type="button"
                aria-pressed={r.users.includes(user)}
                onClick={() =>
                  void (r.users.includes(user) ? chat.unreact(m.seq, key) : chat.react(m.seq, key))
                }
              >
                {key} {r.count}
              </button>
            ))}
            {!m.deleted && !m.reactions["👍"] && (
              <button type="button" onClick={() => void chat.react(m.seq, "👍")}>
                +👍
              </button>
            )}
            {m.senderId === user && !m.deleted && (
              <>
                <button
                  type="button"
                  onClick={() => {
                    const body = prompt("Edit", m.body);
                    if (body) void chat.edit(m.seq, { body });
                  }}
                >
                  edit
                </button>
                <button type="button" onClick={() => void chat.remove(m.seq)}>
                  delete
                </button>
              </>
            )}
          </li>
        ))}
        {chat.pending.map((p) => (
          <li key={p.clientMessageId} className={p.status}>
            <span className="who">{user}</span>
            <span className="body">{p.body}</span>
            <span className="status">
              {p.status === "failed" ? ` not sent: ${p.error?.code}` : " sending…"}
            </span>
            {p.status === "failed" && (
              <button type="button" onClick={() => chat.dismiss(p.clientMessageId)}>
                dismiss
              </button>
            )}
          </li>
        ))}
      </ol>
      <p className="line">
        {chat.state !== "live" && `${chat.state}… `}
        {chat.error && `(${chat.error.code}) `}
        {others(chat.typing) && `${others(chat.typing)} is typing…`}
      </p>
      <p className="line">{others(chat.presence) && `online: ${others(chat.presence)}`}</p>
      <form onSubmit={submit}>
        <input
          aria-label="Message"
          value={draft}
          onChange={(e) => {
            setDraft(e.target.value);
            chat.signalTyping();
          }}
        />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}

function App() {
  const [open, setOpen] = useState<string>();
  return (
    <ParleyProvider options={{ url: relay, token: devToken, userId: user }}>
      <header>
        Signed in as <b>{user}</b> · open as{" "}
        <a href={`?user=${user === "alice" ? "bob" : "alice"}`}>{user === "alice" ? "bob" : "alice"}</a> in
        another tab
      </header>
      <main>
        <Threads open={open} onOpen={setOpen} />
        {open ? <Conversation key={open} id={open} /> : <section />}
      </main>
    </ParleyProvider>
  );
}

createRoot(document.getElementById("root") as HTMLElement).render(<App />);
