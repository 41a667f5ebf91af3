/**
 * One open conversation in the widget: its messages (the latest page, then older pages as the
 * reader scrolls up, then live ones exactly once and in order), the sender's pending and failed
 * messages from the outbox, typing, "Seen by …", presence and the connection banner.
 */
import type { Conversation } from "../conversation.ts";
import type { ParleyClientError } from "../errors.ts";
import type { OutboxEntry } from "../outbox/storage.ts";
import { State, type StateChange } from "../state.ts";
import type { Message } from "../types.ts";
import { h, listOf, setText, timeOf } from "./dom.ts";
import { fmt, type Strings } from "./strings.ts";
import type { Ui } from "./ui.ts";

/** Messages per history page. */
const PAGE = 40;
/** Load an older page when the reader is this close to the top (px). */
const TOP_MARGIN = 120;
/** The sender is shown again after this much silence. */
const GROUP_MS = 5 * 60_000;
/** "Caught up" stays this long. */
const CAUGHT_UP_MS = 3000;

export interface ViewHost {
  strings(): Strings;
  locale(): string | undefined;
  /** Presence of this conversation changed (for the thread list's dot). */
  onPresence(conversationId: string, online: string[]): void;
  /** The view closed for good (a refusal): offer a fresh start. */
  reopen(): void;
}

interface Row {
  li: HTMLLIElement;
  message: Message;
}

interface PendingRow {
  li: HTMLLIElement;
  body: string;
  status: "pending" | "sent" | "failed";
}

export class ConversationView {
  #rows = new Map<number, Row>();
  /** Lowest and highest seq shown; the shown range has no holes. */
  #first: number | undefined;
  #last = 0;
  #mine: number[] = [];
  #mineKeys = new Set<string>();
  #pending = new Map<string, PendingRow>();
  #buffer: Message[] | undefined = [];
  #hasMore = false;
  #loadingEarlier = false;
  #marked = 0;
  #wasDown = false;
  #offs: Array<() => void> = [];
  #timers: Array<ReturnType<typeof setTimeout>> = [];
  #bannerTimer: ReturnType<typeof setTimeout> | undefined;
  #disposed = false;

  constructor(
    readonly conversation: Conversation,
    private readonly me: string | undefined,
    private readonly ui: Ui,
    private readonly host: ViewHost,
  ) {}

  start(): void {
    const c = this.conversation;
    const ui = this.ui;
    ui.list.replaceChildren();
    ui.top.replaceChildren();
    setText(ui.typing, "");
    this.#offs.push(
      c.on("message", (m) => (this.#buffer ? this.#buffer.push(m) : this.#live(m))),
      c.on("synced", ({ lastSeq }) => {
        if (this.#buffer && this.#first === undefined && !this.#loadingEarlier) void this.#load(lastSeq);
      }),
      c.on("reset", ({ lastSeq }) => this.#reload(lastSeq)),
      c.on("state", (s) => this.#onState(s)),
      c.on("typing", ({ users }) => this.#renderTyping(users)),
      c.on("read", () => this.#renderSeen()),
      c.on("presence", ({ online }) => this.#renderPresence(online)),
      c.on("queued", (entry) => this.#addPending(entry)),
      c.on("sent", ({ clientMessageId, message }) => this.#onSent(clientMessageId, message)),
      c.on("failed", ({ clientMessageId, error }) => this.#onFailed(clientMessageId, error)),
      c.on("error", (e) => {
        if (c.state === State.Closed) this.#banner("closed", this.#closedText(e), true);
      }),
    );
    const onScroll = () => {
      if (ui.scroller.scrollTop < TOP_MARGIN) void this.loadEarlier();
    };
    ui.scroller.addEventListener("scroll", onScroll, { passive: true });
    this.#offs.push(() => ui.scroller.removeEventListener("scroll", onScroll));
    // The browser knows it is offline before any socket notices.
    const onNetwork = () => {
      if (globalThis.navigator?.onLine === false) this.#banner("offline", this.host.strings().offline);
      else this.#onState({ oldState: c.state, newState: c.state } as StateChange);
    };
    const onVisible = () => this.markRead();
    globalThis.addEventListener?.("online", onNetwork);
    globalThis.addEventListener?.("offline", onNetwork);
    document.addEventListener("visibilitychange", onVisible);
    this.#offs.push(() => {
      globalThis.removeEventListener?.("online", onNetwork);
      globalThis.removeEventListener?.("offline", onNetwork);
      document.removeEventListener("visibilitychange", onVisible);
    });
    this.#onState({ oldState: c.state, newState: c.state } as StateChange);
    this.#renderPresence(c.online);
    this.#renderTyping(c.typingUsers);
    this.#showPending();
    // Already caught up (an object kept open for its outbox): load from where it is.
    if (c.lastSeq !== undefined) void this.#load(c.lastSeq);
  }

  dispose(): void {
    this.#disposed = true;
    for (const off of this.#offs.splice(0)) off();
    for (const t of this.#timers.splice(0)) clearTimeout(t);
    clearTimeout(this.#bannerTimer);
  }

  /** Queues a message in the outbox and shows it as pending. */
  send(body: string): void {
    // Shown at once by the `queued` event; refusals arrive as `failed` events.
    this.conversation.send(body).catch(() => undefined);
    this.#scrollToBottom();
  }

  /** Marks everything shown as read while the page is visible. */
  markRead(): void {
    if (this.#disposed || document.visibilityState === "hidden" || this.#last <= this.#marked) return;
    this.#marked = this.#last;
    void this.conversation.markRead(this.#last);
  }

  /** Loads the page before the first message shown. */
  async loadEarlier(): Promise<void> {
    if (!this.#hasMore || this.#loadingEarlier || this.#first === undefined || this.#disposed) return;
    this.#loadingEarlier = true;
    this.#renderTop();
    const scroller = this.ui.scroller;
    try {
      const page = await this.conversation.history({ before: this.#first, limit: PAGE });
      if (this.#disposed) return;
      const fromBottom = scroller.scrollHeight - scroller.scrollTop;
      const older = page.messages.filter((m) => m.seq < (this.#first as number));
      const fragment = document.createDocumentFragment();
      let prev: Message | undefined;
      for (const m of older) {
        const li = this.#messageLi(m, prev);
        this.#rows.set(m.seq, { li, message: m });
        if (m.senderId === this.me) this.#mineKeys.add(m.clientMessageId);
        fragment.append(li);
        prev = m;
      }
      const oldFirst = this.#rows.get(this.#first as number);
      this.ui.list.prepend(fragment);
      if (oldFirst) oldFirst.li.classList.toggle("cont", continues(prev, oldFirst.message));
      if (older[0]) this.#first = older[0].seq;
      this.#mine = [...older.filter((m) => m.senderId === this.me).map((m) => m.seq), ...this.#mine];
      this.#hasMore = page.hasMore && older.length > 0;
      scroller.scrollTop = scroller.scrollHeight - fromBottom;
      this.#renderSeen();
    } catch {
      // The reader can ask again (scroll, or the button).
    } finally {
      this.#loadingEarlier = false;
      if (!this.#disposed) this.#renderTop();
    }
  }

  // ---- loading and live messages ----------------------------------------------------------

  /** The latest page up to `base` (where the live stream starts), then what arrived meanwhile. */
  async #load(base: number): Promise<void> {
    this.#loadingEarlier = true;
    let page: { messages: Message[]; hasMore: boolean };
    try {
      page =
        base === 0
          ? { messages: [], hasMore: false }
          : await this.conversation.history({ before: base + 1, limit: PAGE });
    } catch {
      this.#loadingEarlier = false;
      if (!this.#disposed) this.#timers.push(setTimeout(() => void this.#load(base), 2000));
      return;
    }
    this.#loadingEarlier = false;
    if (this.#disposed) return;
    this.#hasMore = page.hasMore;
    for (const m of page.messages) this.#append(m, false);
    if (this.#first === undefined) this.#first = base + 1;
    this.#last = Math.max(this.#last, base);
    const buffered = this.#buffer ?? [];
    this.#buffer = undefined;
    for (const m of buffered) this.#live(m);
    this.#renderTop();
    this.#renderSeen();
    this.#scrollToBottom();
    this.markRead();
    // Fill the view: a short page leaves nothing to scroll.
    for (
      let i = 0;
      i < 5 && this.#hasMore && this.ui.scroller.scrollHeight <= this.ui.scroller.clientHeight;
      i++
    ) {
      await this.loadEarlier();
    }
  }

  /**
   * The relay's log went backwards (a wiped or restored database): what is shown may be gone
   * there, and its seqs are handed out again. Start over from the relay's log; pending sends stay.
   */
  #reload(lastSeq: number): void {
    for (const row of this.#rows.values()) row.li.remove();
    this.#rows.clear();
    this.#first = undefined;
    this.#last = 0;
    this.#mine = [];
    this.#mineKeys.clear();
    this.#hasMore = false;
    this.#buffer = [];
    void this.#load(lastSeq);
  }

  #live(m: Message): void {
    if (m.seq <= this.#last) return;
    const mine = m.senderId === this.me;
    this.#append(m, !mine);
    this.#renderSeen();
    if (!mine) this.#announce(m);
    this.markRead();
  }

  #append(m: Message, keepPosition: boolean): void {
    if (this.#rows.has(m.seq)) return;
    const scroller = this.ui.scroller;
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    const prev = this.#rows.get(m.seq - 1)?.message;
    const li = this.#messageLi(m, prev);
    this.#rows.set(m.seq, { li, message: m });
    this.ui.list.insertBefore(li, this.#firstPendingLi());
    if (this.#first === undefined || m.seq < this.#first) this.#first = m.seq;
    this.#last = Math.max(this.#last, m.seq);
    if (m.senderId === this.me) {
      this.#mine.push(m.seq);
      this.#mineKeys.add(m.clientMessageId);
      this.#dropPending(m.clientMessageId);
    }
    if (!keepPosition || atBottom) this.#scrollToBottom();
  }

  #messageLi(m: Message, prev: Message | undefined): HTMLLIElement {
    const mine = m.senderId === this.me;
    const s = this.host.strings();
    const li = h(
      "li",
      { class: `msg ${mine ? "mine" : "theirs"}`, "data-seq": m.seq, part: "message" },
      h(
        "div",
        { class: "meta" },
        h("span", { class: "sender" }, mine ? s.you : m.senderId),
        h("time", { datetime: m.createdAt }, timeOf(m.createdAt, this.host.locale())),
      ),
      h("p", { class: "body" }, m.body),
    );
    if (continues(prev, m)) li.classList.add("cont");
    return li;
  }

  #firstPendingLi(): HTMLLIElement | null {
    for (const p of this.#pending.values()) return p.li;
    return null;
  }

  #announce(m: Message): void {
    const line = h(
      "p",
      {},
      fmt(this.host.strings().newMessage, { name: m.senderId, text: m.body.slice(0, 500) }),
    );
    this.ui.announcer.append(line);
    while (this.ui.announcer.childElementCount > 5) this.ui.announcer.firstElementChild?.remove();
  }

  #scrollToBottom(): void {
    const s = this.ui.scroller;
    s.scrollTop = s.scrollHeight;
  }

  #renderTop(): void {
    const s = this.host.strings();
    const top = this.ui.top;
    if (this.#loadingEarlier) {
      top.replaceChildren(h("span", {}, s.loadingEarlier));
    } else if (this.#hasMore) {
      const button = h("button", { type: "button", class: "earlier" }, s.loadEarlier);
      button.addEventListener("click", () => void this.loadEarlier());
      top.replaceChildren(button);
    } else {
      top.replaceChildren(h("span", {}, s.beginning));
    }
  }

  // ---- the outbox ---------------------------------------------------------------------------

  #addPending(entry: OutboxEntry): void {
    const key = entry.clientMessageId;
    if (this.#pending.has(key) || this.#mineKeys.has(key)) return;
    const s = this.host.strings();
    const li = h(
      "li",
      { class: "msg mine", "data-status": "pending", "data-client-id": key, part: "message" },
      h("p", { class: "body" }, entry.body),
      h("p", { class: "status" }, s.sending),
    );
    this.#pending.set(key, { li, body: entry.body, status: "pending" });
    this.ui.list.append(li);
  }

  /** Entries already in the outbox when this view opened (later ones arrive as `queued`). */
  #showPending(): void {
    for (const entry of this.conversation.pending) this.#addPending(entry);
  }

  #onSent(key: string, message: Message): void {
    const row = this.#pending.get(key);
    if (!row) return;
    // Already shown, or older than what is shown (stored before a reload): nothing to wait for.
    if (message.seq <= this.#last) {
      this.#dropPending(key);
      return;
    }
    row.status = "sent";
    row.li.dataset.status = "sent";
    row.li.querySelector(".status")?.remove();
  }

  #onFailed(key: string, error: ParleyClientError): void {
    const row = this.#pending.get(key);
    if (!row) return;
    const s = this.host.strings();
    row.status = "failed";
    row.li.dataset.status = "failed";
    const retry = h("button", { type: "button", class: "retry" }, s.retry);
    const discard = h("button", { type: "button", class: "discard" }, s.discard);
    retry.addEventListener("click", () => {
      this.#dropPending(key);
      this.send(row.body);
      this.ui.input.focus();
    });
    discard.addEventListener("click", () => {
      this.#dropPending(key);
      this.ui.input.focus();
    });
    row.li
      .querySelector(".status")
      ?.replaceChildren(
        h("span", {}, fmt(s.failed, { reason: error.message || error.code })),
        retry,
        discard,
      );
  }

  #dropPending(key: string): void {
    const row = this.#pending.get(key);
    if (!row) return;
    this.#pending.delete(key);
    row.li.remove();
  }

  // ---- typing, seen, presence, connection -----------------------------------------------------

  #renderTyping(users: string[]): void {
    const s = this.host.strings();
    const others = users.filter((u) => u !== this.me);
    const text =
      others.length === 0
        ? ""
        : fmt(others.length === 1 ? s.typingOne : s.typingMany, {
            name: others[0] as string,
            names: listOf(others, this.host.locale()),
          });
    setText(this.ui.typing, text);
  }

  /** "Seen by …" under the latest of my messages each other member has read. */
  #renderSeen(): void {
    for (const el of this.ui.list.querySelectorAll(".seen")) el.remove();
    const byMessage = new Map<number, string[]>();
    for (const [userId, seq] of this.conversation.readPositions) {
      if (userId === this.me) continue;
      const target = latestAtOrBelow(this.#mine, seq);
      if (target === undefined) continue;
      byMessage.set(target, [...(byMessage.get(target) ?? []), userId]);
    }
    const s = this.host.strings();
    for (const [seq, users] of byMessage) {
      this.#rows
        .get(seq)
        ?.li.append(
          h("p", { class: "seen" }, fmt(s.seenBy, { names: listOf(users.sort(), this.host.locale()) })),
        );
    }
  }

  #renderPresence(online: string[]): void {
    this.host.onPresence(this.conversation.id, online);
    const others = online.filter((u) => u !== this.me);
    const s = this.host.strings();
    setText(
      this.ui.presence,
      others.length ? fmt(s.onlineNow, { names: listOf(others, this.host.locale()) }) : "",
    );
  }

  #onState(change: StateChange): void {
    const s = this.host.strings();
    switch (change.newState) {
      case State.Connecting:
        this.#banner("connecting", s.connecting);
        return;
      case State.Syncing:
        this.#banner(
          this.#wasDown ? "catching-up" : "connecting",
          this.#wasDown ? s.catchingUp : s.connecting,
        );
        return;
      case State.Live:
        if (this.#wasDown) {
          this.#wasDown = false;
          this.#banner("caught-up", s.caughtUp);
          clearTimeout(this.#bannerTimer);
          this.#bannerTimer = setTimeout(() => this.#banner("live", ""), CAUGHT_UP_MS);
        } else if (globalThis.navigator?.onLine === false) {
          this.#banner("offline", s.offline);
        } else if (this.ui.banner.dataset.state !== "caught-up") {
          this.#banner("live", "");
        }
        this.#renderPresence(this.conversation.online);
        this.markRead();
        return;
      case State.Reconnecting: {
        this.#wasDown = true;
        this.#renderPresence([]); // unknown while away
        const offline = globalThis.navigator?.onLine === false;
        this.#banner(offline ? "offline" : "reconnecting", offline ? s.offline : s.reconnecting);
        return;
      }
      case State.Closed:
        this.#banner("closed", fmt(s.closed, { reason: change.reason ?? "" }), true);
        return;
    }
  }

  #closedText(error: ParleyClientError): string {
    const s = this.host.strings();
    const reason =
      error.code === "forbidden"
        ? s.forbidden
        : error.code === "not_found"
          ? s.notFound
          : error.code === "unauthorized"
            ? s.unauthorized
            : error.message;
    return fmt(s.closed, { reason });
  }

  #banner(state: string, text: string, reopen = false): void {
    if (this.#disposed) return;
    if (state !== "caught-up") clearTimeout(this.#bannerTimer);
    const banner = this.ui.banner;
    banner.dataset.state = state;
    if (!text) {
      banner.replaceChildren();
      return;
    }
    const parts: Node[] = [h("span", {}, text)];
    if (reopen) {
      const button = h("button", { type: "button" }, this.host.strings().reconnect);
      button.addEventListener("click", () => this.host.reopen());
      parts.push(button);
    }
    banner.replaceChildren(...parts);
  }
}

/** Whether `m` continues `prev`'s group (same sender, soon after): its sender is not repeated. */
function continues(prev: Message | undefined, m: Message): boolean {
  return (
    prev !== undefined &&
    prev.senderId === m.senderId &&
    Date.parse(m.createdAt) - Date.parse(prev.createdAt) < GROUP_MS
  );
}

/** The largest value of an ascending list that is ≤ `max`. */
function latestAtOrBelow(sorted: number[], max: number): number | undefined {
  for (let i = sorted.length - 1; i >= 0; i--) {
    const v = sorted[i] as number;
    if (v <= max) return v;
  }
  return undefined;
}
