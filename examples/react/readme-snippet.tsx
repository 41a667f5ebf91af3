import { ParleyProvider, useConversation, useInbox } from "../../client/react/index.ts";

export function App({ getToken }: { getToken: () => Promise<string> }) {
  return (
    <ParleyProvider options={{ url: "https://chat.example.com", token: getToken }}>
      <Unread />
      <Chat id="support-42" />
    </ParleyProvider>
  );
}

function Unread() {
  const { threads, unread } = useInbox(); // live, newest activity first
  return <p>{`${unread} unread in ${threads.length} conversations`}</p>;
}

function Chat({ id }: { id: string }) {
  const chat = useConversation(id); // connected while mounted, released on unmount
  return (
    <div>
      {chat.messages.map((m) => (
        <p key={m.seq}>
          {m.deleted ? "(deleted)" : m.body}
          <button type="button" onClick={() => chat.react(m.seq, "👍")}>
            👍 {m.reactions["👍"]?.count}
          </button>
        </p>
      ))}
      {chat.pending.map((p) => (
        <p key={p.clientMessageId}>{`${p.body} (${p.status})`}</p>
      ))}
      <p>{chat.typing.length > 0 && `${chat.typing.join(", ")} typing…`}</p>
      <input
        onChange={chat.signalTyping}
        onKeyDown={(e) => e.key === "Enter" && chat.send(e.currentTarget.value)}
      />
    </div>
  );
}
