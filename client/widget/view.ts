/**
 * One open conversation in the widget: its messages (the latest page, then older pages as the
 * reader scrolls up, then live ones exactly once and in order, each re-rendered when it
 * changes), the sender's pending and failed messages from the outbox, typing, "Seen by …",
 * presence and the connection banner; and what can be done to a message from its actions menu
 * (react, reply, edit in place, delete with a confirmation) or its chips and quote.
 */
import type { Conversation } from "../conversation.ts";
import type { ParleyClientError } from "../errors.ts";
import { reactionOf } from "../message-state.ts";
import type { ChangeRequest } from "../outbox/storage.ts";
import { State, type StateChange } from "../state.ts";
import type { Message } from "../types.ts";
import { closedState } from "./closed.ts";
import { button, h, listOf, setText } from "./dom.ts";
import { fill, messageRow, type Row, regroup } from "./messages.ts";
import { OutboxRows } from "./outbox-rows.ts";
import { Pin } from "./scroll.ts";
import { fmt, type Strings } from "./strings.ts";
import { setBanner, setComposer, type Ui } from "./ui.ts";

/** Messages per history page. */
const PAGE = 40;
/** Load an older page when the reader is this close to the top (px). */
const TOP_MARGIN = 120;
/** "Caught up" stays this long. */
const CAUGHT_UP_MS = 3000;

export interface ViewHost {
  strings(): Strings;
  locale(): string | undefined;
  /** The name shown for a user. */
  name(userId: string): string;
  /** The picture of a user, when their profile has one. */
  picture(userId: string): string | null | undefined;
  /** Presence of this conversation changed (for the thread list's dot); empty while unknown. */
  onPresence(conversationId: string, online: string[]): void;
  /** The conversation is live (again): a good time to retry what failed while it was not. */
  onLive(): void;
  /** The view closed for good: offer this conversation again. */
  reopen(): void;
  /** The token was refused for good: start over with a new one. */
  restart(): void;
  /**
   * The token was refused for good (the banner says so and offers `restart`): nothing may go
   * on asking for tokens or calling the relay meanwhile.
   */
  refused(): void;
}

export class ConversationView {
  #rows = new Map<number, Row>();
  /** Lowest and highest seq shown; the shown range has no holes. */
  #first: number | undefined;
  #last = 0;
  #mine: number[] = [];
  #mineKeys = new Set<string>();
  #outbox: OutboxRows;
  #pin: Pin;
  #buffer: Message[] | undefined = [];
  #loaded = false;
  #hasMore = false;
  #loadingEarlier = false;
  #marked = 0;
  #wasDown = false;
  #offs: Array<() => void> = [];
  #timers: Array<ReturnType<typeof setTimeout>> = [];
  #bannerTimer: ReturnType<typeof setTimeout> | undefined;
  #disposed = false;
  /** The open actions menu (or delete confirmation) and its row. */
  #menu: { row: Row; el: HTMLElement } | undefined;
  /** The message edited in place: its row, editor and buttons. */
  #editing: { row: Row; input: HTMLTextAreaElement; bar: HTMLElement } | undefined;
  /** The message the composer answers. */
  #replyTo: Row | undefined;

  readonly #me: string | undefined;
  readonly #ui: Ui;
  readonly #host: ViewHost;

  constructor(
    readonly conversation: Conversation,
    me: string | undefined,
    ui: Ui,
    host: ViewHost,
  ) {
    this.#host = host;
    this.#ui = ui;
    this.#me = me;
    this.#outbox = new OutboxRows(ui.list, {
      strings: () => host.strings(),
      resend: (body) => {
        this.send(body);
        ui.input.focus();
      },
      edit: (body) => {
        ui.input.value = ui.input.value ? `${body}\n${ui.input.value}` : body;
        ui.input.dispatchEvent(new Event("input"));
        ui.input.focus();
      },
      focus: () => ui.input.focus(),
      reveal: (el) => this.#pin.reveal(el),
    });
    this.#pin = new Pin(ui.scroller, ui.list, () => {
      ui.pill.hidden = true;
      this.markRead();
    });
  }

  start(): void {
    const c = this.conversation;
    const ui = this.#ui;
    ui.list.replaceChildren();
    ui.top.replaceChildren();
    ui.pill.hidden = true;
    setText(ui.typing, "");
    this.#offs.push(
      c.on("message", (m) => (this.#buffer ? this.#buffer.push(m) : this.#live(m))),
      c.on("updated", ({ message }) => this.#update(message)),
      c.on("changeFailed", ({ change, error }) => this.#refused(change, error)),
      c.on("synced", ({ lastSeq }) => {
        if (this.#buffer && this.#first === undefined && !this.#loadingEarlier) void this.#load(lastSeq);
      }),
      c.on("reset", ({ lastSeq }) => this.#reload(lastSeq)),
      c.on("state", (s) => this.#onState(s)),
      c.on("typing", ({ users }) => this.#renderTyping(users)),
      c.on("read", () => this.#renderSeen()),
      c.on("presence", ({ online }) => this.#renderPresence(online)),
      c.on("queued", (entry) => {
        if (!this.#mineKeys.has(entry.clientMessageId)) this.#outbox.add(entry);
        this.#renderTop();
      }),
      c.on("sent", ({ clientMessageId, message }) => this.#outbox.sent(clientMessageId, message, this.#last)),
      c.on("failed", ({ clientMessageId, error }) => this.#outbox.failed(clientMessageId, error)),
      this.#pin.dispose.bind(this.#pin),
    );
    // Every DOM listener of this view goes with one abort (at dispose).
    const listening = new AbortController();
    this.#offs.push(() => listening.abort());
    const opts = { signal: listening.signal };
    ui.scroller.addEventListener(
      "scroll",
      () => {
        if (ui.scroller.scrollTop < TOP_MARGIN) void this.loadEarlier();
      },
      { passive: true, signal: listening.signal },
    );
    ui.pill.addEventListener("click", () => this.#pin.toBottom(), opts);
    ui.list.addEventListener("click", (event) => this.#click(event.target as Element), opts);
    ui.list.addEventListener("keydown", (event) => this.#key(event), opts);
    // Focus leaving the menu (Tab, the composer) closes it; a click elsewhere too (`#click`).
    ui.list.addEventListener(
      "focusout",
      (event) => {
        const to = event.relatedTarget as Node | null;
        if (to && this.#menu && !this.#menu.el.contains(to) && !this.#menu.row.li.contains(to))
          this.#closeMenu();
      },
      opts,
    );
    // The browser knows it is offline before any socket notices.
    const onNetwork = () => this.#onState({ oldState: c.state, newState: c.state } as StateChange);
    globalThis.addEventListener?.("online", onNetwork, opts);
    globalThis.addEventListener?.("offline", onNetwork, opts);
    document.addEventListener("visibilitychange", () => this.markRead(), opts);
    setComposer(ui, null);
    this.#onState({ oldState: c.state, newState: c.state } as StateChange);
    this.#renderPresence(c.online);
    this.#renderTyping(c.typingUsers);
    // Entries already in the outbox when this view opened (later ones arrive as `queued`).
    for (const entry of c.pending) this.#outbox.add(entry);
    // Already caught up (an object kept open for its outbox): load from where it is.
    if (c.lastSeq !== undefined) void this.#load(c.lastSeq);
  }

  /** Profiles arrived or changed: names and faces shown again. */
  people(): void {
    for (const row of this.#rows.values()) this.#fill(row);
    const c = this.conversation;
    this.#renderTyping(c.typingUsers);
    this.#renderSeen();
    this.#renderPresence(c.online);
  }

  dispose(): void {
    this.#disposed = true;
    this.cancelReply();
    for (const off of this.#offs.splice(0)) off();
    for (const t of this.#timers.splice(0)) clearTimeout(t);
    clearTimeout(this.#bannerTimer);
  }

  /** Queues a message (a reply, when one is being written) in the outbox and shows it as pending. */
  send(body: string): void {
    // Shown at once by the `queued` event; refusals arrive as `failed` events.
    const to = this.#replyTo?.message.seq;
    this.conversation.send(body, { replyTo: to }).catch(() => undefined);
    this.cancelReply();
    this.#pin.toBottom();
  }

  /** Stops replying; false when the composer was not replying. */
  cancelReply(): boolean {
    const was = this.#replyTo !== undefined;
    this.#replyTo = undefined;
    this.#ui.replying.hidden = true;
    setText(this.#ui.replyText, "");
    return was;
  }

  /** Edits the latest of my messages shown (Up arrow in an empty composer); false if none. */
  editLast(): boolean {
    const row = this.#mine
      .map((seq) => this.#rows.get(seq))
      .reverse()
      .find((r) => r && !r.message.deleted);
    if (row) this.#edit(row);
    return row !== undefined;
  }

  /** Marks everything shown as read while the page is visible and the reader at the bottom. */
  markRead(): void {
    if (this.#disposed || document.visibilityState === "hidden" || this.#last <= this.#marked) return;
    if (!this.#pin.atBottom) return;
    this.#marked = this.#last;
    void this.conversation.markRead(this.#last);
  }

  /** Loads the page before the first message shown, keeping the reader's place. */
  async loadEarlier(): Promise<void> {
    if (!this.#hasMore || this.#loadingEarlier || this.#first === undefined || this.#disposed) return;
    this.#loadingEarlier = true;
    this.#renderTop();
    const scroller = this.#ui.scroller;
    try {
      const first = this.#first;
      const page = await this.conversation.history({ before: first, limit: PAGE });
      if (this.#disposed) return;
      // The reader's place is where the first row shown is: it must not move on screen,
      // whatever changes above it (the older rows, its day line, the line at the top).
      const anchor = this.#rows.get(first)?.li;
      const was = anchor?.getBoundingClientRect().top ?? 0;
      const older = page.messages.filter((m) => m.seq < first);
      const fragment = document.createDocumentFragment();
      for (const m of older) {
        const row = messageRow(m, this.#context);
        this.#rows.set(m.seq, row);
        if (m.senderId === this.#me) this.#mineKeys.add(m.clientMessageId);
        fragment.append(row.li);
      }
      const oldFirst = this.#rows.get(first);
      (oldFirst?.day ?? oldFirst?.li)?.before(fragment);
      if (older[0]) {
        this.#first = older[0].seq;
        regroup(this.#rows, older[0].seq, this.#context);
      }
      this.#mine = [...older.filter((m) => m.senderId === this.#me).map((m) => m.seq), ...this.#mine];
      this.#hasMore = page.hasMore && older.length > 0;
      this.#loadingEarlier = false;
      this.#renderTop();
      this.#renderSeen();
      if (anchor && !this.#pin.atBottom) scroller.scrollTop += anchor.getBoundingClientRect().top - was;
    } catch {
      // The reader can ask again (scroll, or the button).
    } finally {
      if (this.#loadingEarlier && !this.#disposed) {
        this.#loadingEarlier = false;
        this.#renderTop();
      }
    }
  }

  // ---- loading and live messages ----------------------------------------------------------

  get #context() {
    return {
      me: this.#me,
      strings: this.#host.strings,
      locale: this.#host.locale,
      name: this.#host.name,
      picture: this.#host.picture,
      original: (seq: number) => this.#rows.get(seq)?.message ?? this.conversation.message(seq),
    };
  }

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
    this.#loaded = true;
    this.#hasMore = page.hasMore;
    for (const m of page.messages) this.#append(m);
    if (this.#first === undefined) this.#first = base + 1;
    this.#last = Math.max(this.#last, base);
    const buffered = this.#buffer ?? [];
    this.#buffer = undefined;
    for (const m of buffered) this.#live(m);
    this.#renderTop();
    this.#renderSeen();
    this.#pin.toBottom();
    this.markRead();
    // Fill the view: a short page leaves nothing to scroll.
    for (
      let i = 0;
      i < 5 && this.#hasMore && this.#ui.scroller.scrollHeight <= this.#ui.scroller.clientHeight;
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
    for (const row of this.#rows.values()) {
      row.li.remove();
      row.day?.remove();
    }
    this.#rows.clear();
    this.#menu = this.#editing = undefined;
    this.cancelReply();
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
    const wasEmpty = this.#rows.size === 0;
    const mine = m.senderId === this.#me;
    this.#append(m);
    this.#renderSeen();
    if (wasEmpty) this.#renderTop();
    if (mine) this.#pin.toBottom();
    else {
      this.#announce(m);
      // Scrolled up: nothing moves, a pill says there is more below.
      if (!this.#pin.atBottom) this.#ui.pill.hidden = false;
    }
    this.markRead();
  }

  #append(m: Message): void {
    if (this.#rows.has(m.seq)) return;
    // Its latest state: it may have changed while it waited (a buffered live message).
    const row = messageRow(this.conversation.message(m.seq) ?? m, this.#context);
    this.#rows.set(m.seq, row);
    this.#ui.list.insertBefore(row.li, this.#outbox.first);
    regroup(this.#rows, m.seq, this.#context);
    if (this.#first === undefined || m.seq < this.#first) this.#first = m.seq;
    this.#last = Math.max(this.#last, m.seq);
    if (m.senderId === this.#me) {
      this.#mine.push(m.seq);
      this.#mineKeys.add(m.clientMessageId);
      this.#outbox.drop(m.clientMessageId);
    }
  }

  #announce(m: Message): void {
    this.#say(
      fmt(this.#host.strings().newMessage, { name: this.#host.name(m.senderId), text: m.body.slice(0, 500) }),
    );
  }

  /** Says `text` to screen readers (the polite live region keeps the last five). */
  #say(text: string): void {
    this.#ui.announcer.append(h("p", {}, text));
    while (this.#ui.announcer.childElementCount > 5) this.#ui.announcer.firstElementChild?.remove();
  }

  // ---- changes to messages, and the actions that make them ---------------------------------

  /** A message has a new state: its row, and the quotes of it in replies, show it. */
  #update(m: Message): void {
    const row = this.#rows.get(m.seq);
    if (row) row.message = m;
    if (m.deleted) {
      // Its text goes from everywhere: the live region's past lines, the reply being written.
      this.#ui.announcer.replaceChildren();
      if (this.#replyTo?.message.seq === m.seq) this.cancelReply();
    }
    for (const r of this.#rows.values()) if (r === row || r.message.replyTo === m.seq) this.#fill(r);
  }

  /** Renders a row again, keeping its editor, its open menu and the focus inside it. */
  #fill(row: Row): void {
    const root = this.#ui.list.getRootNode() as ShadowRoot;
    const had = root.activeElement as HTMLElement | null;
    const inside = had && row.li.contains(had);
    fill(row, this.#context);
    const line = row.li.querySelector(".line");
    const gone = row.message.deleted;
    const e = this.#editing;
    if (e?.row === row) {
      if (gone) this.#editing = undefined;
      else {
        row.li.querySelector(".body")?.replaceWith(e.input);
        line?.after(e.bar);
      }
    }
    const menu = this.#menu;
    if (menu?.row === row) {
      if (gone) this.#menu = undefined;
      else {
        line?.after(menu.el);
        row.li.querySelector(".more")?.setAttribute("aria-expanded", "true");
      }
    }
    if (inside && root.activeElement !== had) {
      const same = [...row.li.querySelectorAll("button")].find((b) => b.dataset.act === had.dataset.act);
      (had.isConnected
        ? had
        : (same ?? row.li.querySelector<HTMLElement>(".more") ?? this.#ui.input)
      ).focus();
    }
    this.#renderSeen();
  }

  /** A click in the list: a message's actions, a chip, a quote, a button of the menu or editor. */
  #click(target: Element): void {
    const el = target.closest?.("button");
    const act = el?.dataset.act;
    const li = el?.closest("li.msg") as HTMLElement | null | undefined;
    const row = this.#rows.get(Number(li?.dataset.seq));
    const menu = this.#menu;
    if (menu && act !== "more" && !menu.el.contains(el ?? null)) this.#closeMenu();
    if (!act || !row || row.li !== li) return;
    const m = row.message;
    const c = this.conversation;
    const s = this.#host.strings();
    switch (act) {
      case "more":
        this.#openMenu(row);
        return;
      case "quote":
        void this.#jump(m.replyTo as number);
        return;
      case "save":
        this.#save();
        return;
      case "cancel":
        this.#endEdit();
        return;
      case "edit":
        this.#edit(row);
        return;
      case "delete": {
        // Asked first: the question, Delete (focused) and Cancel.
        const yes = button("del", s.delete);
        menu?.el.replaceChildren(h("span", {}, s.deleteConfirm), yes, button("close", s.cancel));
        yes.focus();
        return;
      }
      case "del":
        c.delete(m.seq).catch(() => undefined);
        break;
      case "reply":
        this.#replyTo = row;
        setText(
          this.#ui.replyText,
          fmt(s.replyingTo, {
            // Your own message is "You", as its sender label and the thread list say.
            name: m.senderId === this.#me ? s.you : this.#host.name(m.senderId),
            text: m.body.slice(0, 200),
          }),
        );
        this.#ui.replying.hidden = false;
        break;
      case "close":
        break;
      default: {
        // "+<key>": a chip or a reaction of the menu toggles mine.
        const key = act.slice(1);
        const mine = this.#me !== undefined && reactionOf(m, key)?.users.includes(this.#me);
        (mine ? c.unreact(m.seq, key) : c.react(m.seq, key)).catch(() => undefined);
      }
    }
    const back = act === "del" || act === "reply";
    this.#closeMenu(!back);
    if (back) this.#ui.input.focus();
  }

  /** Keys in the list: Esc closes the menu or the editor; Enter saves the edit. */
  #key(event: KeyboardEvent): void {
    const editing = event.target === this.#editing?.input;
    if (event.key === "Escape" && editing) this.#endEdit();
    else if (event.key === "Escape" && this.#menu) this.#closeMenu(true);
    else if (event.key === "Enter" && editing && !event.shiftKey && !event.isComposing) this.#save();
    else return;
    event.preventDefault();
  }

  /** Opens a row's actions (or closes them, when open there): reactions, reply, edit, delete. */
  #openMenu(row: Row): void {
    const was = this.#menu?.row;
    this.#closeMenu(true);
    if (was === row) return;
    const s = this.#host.strings();
    const mine = row.message.senderId === this.#me;
    const el = h(
      "div",
      { class: "menu", role: "group", "aria-label": s.actions },
      ...s.reactionKeys.split(" ").map((key) => button(`+${key}`, key, fmt(s.reactWith, { key }))),
      button("reply", s.reply),
      mine && button("edit", s.edit),
      mine && button("delete", s.delete),
    );
    this.#menu = { row, el };
    this.#fill(row);
    (el.firstElementChild as HTMLElement).focus();
  }

  #closeMenu(focus = false): void {
    const menu = this.#menu;
    this.#menu = undefined;
    menu?.el.remove();
    const more = menu?.row.li.querySelector<HTMLElement>(".more");
    more?.setAttribute("aria-expanded", "false");
    if (focus) more?.focus();
  }

  /** Edits a row in place: its body becomes an editor (Enter saves, Esc cancels). */
  #edit(row: Row): void {
    this.#closeMenu();
    this.#endEdit(false);
    const s = this.#host.strings();
    const input = h("textarea", { class: "edit", dir: "auto", "aria-label": s.editMessage });
    input.value = row.message.body;
    this.#editing = {
      row,
      input,
      bar: h("div", { class: "menu" }, button("save", s.save), button("cancel", s.cancel)),
    };
    this.#fill(row);
    input.focus();
    input.selectionStart = input.value.length;
  }

  /** Saves the edit (nothing when the text did not change; an empty text is not saved). */
  #save(): void {
    const e = this.#editing;
    const body = e?.input.value.trim();
    if (!e || !body) return;
    this.#endEdit();
    if (body !== e.row.message.body)
      this.conversation.edit(e.row.message.seq, { body }).catch(() => undefined);
  }

  #endEdit(focus = true): void {
    const e = this.#editing;
    this.#editing = undefined;
    if (e) this.#fill(e.row);
    if (focus) this.#ui.input.focus();
  }

  /** Shows message `seq` (loading older pages until it is there) and puts the focus on it. */
  async #jump(seq: number): Promise<void> {
    for (let i = 0; i < 20 && !this.#rows.has(seq) && this.#hasMore && !this.#disposed; i++)
      await this.loadEarlier();
    const li = this.#rows.get(seq)?.li;
    if (!li) return;
    li.tabIndex = -1;
    li.classList.add("hl");
    li.focus({ preventScroll: true });
    this.#pin.reveal(li);
    this.#timers.push(setTimeout(() => li.classList.remove("hl"), 2000));
  }

  /** A change of mine was refused (and undone): why, under the message and to screen readers. */
  #refused(change: ChangeRequest, error: ParleyClientError): void {
    const s = this.#host.strings();
    const words: Record<string, string> = {
      forbidden: s.notYours,
      not_found: s.gone,
      too_large: s.tooLarge,
      conflict: change.kind === "react" ? s.tooManyReactions : s.deleted,
    };
    const text = words[error.code] ?? fmt(s.failed, { reason: error.message || error.code });
    this.#rows.get(change.seq)?.li.append(h("p", { class: "status" }, text));
    this.#say(text);
  }

  /** The line above the messages: older pages, the beginning, or why there is nothing yet. */
  #renderTop(): void {
    const s = this.#host.strings();
    const top = this.#ui.top;
    if (this.#hasMore) {
      // Loading keeps the button's box (disabled, other words): nothing above the reader moves.
      const loading = this.#loadingEarlier;
      const button = h(
        "button",
        { type: "button", class: "earlier", disabled: loading },
        loading ? s.loadingEarlier : s.loadEarlier,
      );
      button.addEventListener("click", () => void this.loadEarlier());
      top.replaceChildren(button);
    } else if (this.#loadingEarlier) {
      top.replaceChildren(h("span", {}, s.loadingEarlier));
    } else if (!this.#loaded) {
      // Nothing is cached: say what the empty view waits for (a `p`, not the loaded `span`).
      const waiting =
        this.conversation.state === State.Reconnecting || globalThis.navigator?.onLine === false;
      top.replaceChildren(...(waiting ? [h("p", { class: "empty" }, s.messagesOffline)] : []));
    } else {
      const empty = this.#rows.size === 0 && this.#outbox.size === 0;
      top.replaceChildren(h("span", { class: empty ? "empty" : "" }, empty ? s.noMessages : s.beginning));
    }
  }

  // ---- typing, seen, presence, connection -----------------------------------------------------

  #renderTyping(users: string[]): void {
    const s = this.#host.strings();
    const others = users.filter((u) => u !== this.#me).map(this.#host.name);
    const text =
      others.length === 0
        ? ""
        : fmt(others.length === 1 ? s.typingOne : s.typingMany, {
            name: others[0] as string,
            names: listOf(others, this.#host.locale()),
          });
    setText(this.#ui.typing, text);
  }

  /** "Seen by …" under the latest of my messages each other member has read. */
  #renderSeen(): void {
    for (const el of this.#ui.list.querySelectorAll(".seen")) el.remove();
    const byMessage = new Map<number, string[]>();
    for (const [userId, seq] of this.conversation.readPositions) {
      if (userId === this.#me) continue;
      const target = latestAtOrBelow(this.#mine, seq);
      if (target === undefined) continue;
      byMessage.set(target, [...(byMessage.get(target) ?? []), userId]);
    }
    const s = this.#host.strings();
    for (const [seq, users] of byMessage) {
      const names = listOf(users.sort().map(this.#host.name), this.#host.locale());
      this.#rows.get(seq)?.li.append(h("p", { class: "seen" }, fmt(s.seenBy, { names })));
    }
  }

  #renderPresence(online: string[]): void {
    this.#host.onPresence(this.conversation.id, online);
    const others = online.filter((u) => u !== this.#me).map(this.#host.name);
    const s = this.#host.strings();
    setText(
      this.#ui.presence,
      others.length ? fmt(s.onlineNow, { names: listOf(others, this.#host.locale()) }) : "",
    );
  }

  #onState(change: StateChange): void {
    if (this.#disposed) return;
    const s = this.#host.strings();
    const offline = globalThis.navigator?.onLine === false;
    if (change.newState !== State.Live) clearTimeout(this.#bannerTimer);
    switch (change.newState) {
      case State.Connecting:
        this.#banner(offline ? "offline" : "connecting", offline ? s.offline : s.connecting);
        break;
      case State.Syncing:
        this.#banner(
          this.#wasDown ? "catching-up" : "connecting",
          this.#wasDown ? s.catchingUp : s.connecting,
        );
        break;
      case State.Live:
        if (this.#wasDown) {
          this.#wasDown = false;
          this.#banner("caught-up", s.caughtUp);
          clearTimeout(this.#bannerTimer);
          this.#bannerTimer = setTimeout(() => this.#banner("live", ""), CAUGHT_UP_MS);
        } else if (offline) {
          this.#banner("offline", s.offline);
        } else if (this.#ui.banner.dataset.state !== "caught-up") {
          this.#banner("live", "");
        }
        this.#renderPresence(this.conversation.online);
        this.markRead();
        this.#host.onLive();
        break;
      case State.Reconnecting:
        this.#wasDown = true;
        this.#renderPresence([]); // unknown while away
        this.#banner(offline ? "offline" : "reconnecting", offline ? s.offline : s.reconnecting);
        break;
      case State.Closed: {
        // The state's reason says why (the SDK emits its `error` just before): words, the one
        // action that can help, and the composer off with its reason.
        const closed = closedState(change.reason, s);
        const action: [string, () => void] | undefined =
          closed.action === "restart"
            ? [s.tryAgain, () => this.#host.restart()]
            : closed.action === "reopen"
              ? [s.reconnect, () => this.#host.reopen()]
              : undefined;
        this.#renderPresence([]);
        this.#banner("closed", closed.text, action);
        setComposer(this.#ui, closed.composer);
        if (change.reason === "unauthorized") this.#host.refused();
        break;
      }
    }
    this.#renderTop();
  }

  #banner(state: string, text: string, action?: [string, () => void]): void {
    if (!this.#disposed) setBanner(this.#ui, state, text, action);
  }
}

/** The largest value of an ascending list that is ≤ `max`. */
function latestAtOrBelow(sorted: number[], max: number): number | undefined {
  for (let i = sorted.length - 1; i >= 0; i--) {
    const v = sorted[i] as number;
    if (v <= max) return v;
  }
  return undefined;
}
