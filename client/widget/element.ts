/**
 * `<parley-chat>`: a chat for one signed-in user, in a shadow root, on the Parley SDK.
 *
 * ```html
 * <parley-chat url="https://chat.example.com" conversation="support-42"></parley-chat>
 * <script>document.querySelector("parley-chat").getToken = () => fetch("/chat-token").then((r) => r.json());</script>
 * ```
 *
 * Attributes: `url` (default: where the script came from), `conversation` (default: the most
 * recent thread), `token` (or the `getToken` property, called again when a token expires),
 * `no-threads` (hide the thread list), `theme` (`light`, `dark`, or `auto`: the system's).
 * Properties: `strings` (translations), `clientOptions` (SDK options such as `transport`).
 */
import { createParleyClient, type ParleyClient, type ParleyClientOptions } from "../client.ts";
import type { Conversation } from "../conversation.ts";
import type { Inbox } from "../inbox.ts";
import { State } from "../state.ts";
import { subjectOf } from "../token.ts";
import type { ThreadItem } from "../types.ts";
import { h, setText } from "./dom.ts";
import { nameOf } from "./people.ts";
import { defaultStrings, fmt, type Strings } from "./strings.ts";
import { ThreadList } from "./threads.ts";
import { TokenShapeError, tokenFrom } from "./token-input.ts";
import { applyStrings, buildUi, setBanner, setComposer, type Ui } from "./ui.ts";
import { ConversationView } from "./view.ts";

/**
 * Gives the user's token: the bare JWT, or `{ "token": "<jwt>" }` (the relay's own answer) as
 * an object, its JSON text, or the fetch Response carrying it.
 */
type TokenFn = () => unknown;

/** Presence of the threads not open is refreshed this often (while the page is visible). */
const PRESENCE_POLL_MS = 20_000;
/** At most this many threads get their presence polled. */
const PRESENCE_THREADS = 20;
/** A failed title lookup is tried again after 1, 2, 4 … s, at most this long apart. */
const TITLE_RETRY_MAX_MS = 15_000;

export class ParleyChat extends HTMLElement {
  static readonly observedAttributes = ["url", "token", "conversation", "no-threads"];
  /** The relay URL used when there is no `url` attribute (the bundle sets it to its own origin). */
  static defaultUrl: string | undefined;

  #ui: Ui;
  #strings: Strings = { ...defaultStrings };
  #getToken: TokenFn | undefined;
  #clientOptions: Partial<ParleyClientOptions> = {};
  #client: ParleyClient | undefined;
  #name = (userId: string) => nameOf(this.#client, userId);
  #picture = (userId: string) => this.#client?.profile(userId)?.picture;
  #me: string | undefined;
  #inbox: Inbox | undefined;
  #view: ConversationView | undefined;
  /** Conversations left while their outbox still had messages: kept open until it empties. */
  #background = new Set<Conversation>();
  #threads: ThreadItem[] = [];
  #threadList: ThreadList;
  #online = new Map<string, string[]>();
  #inboxLoaded = false;
  /** The first token could not be had (offline, the host's endpoint down): trying again. */
  #signingIn = false;
  /** Failures to get a first token in a row (the console hears of the first only). */
  #tokenFailures = 0;
  #unread = 0;
  #active: string | undefined;
  /** Titles fetched for conversations the thread list does not name ("" when untitled). */
  #titles = new Map<string, string>();
  /** The members fetched with them, so an untitled one is named by its people, not its id. */
  #fetchedMembers = new Map<string, string[]>();
  #titleTimer: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;
  #restartQueued = false;
  #offs: Array<() => void> = [];

  constructor() {
    super();
    const shadow = this.attachShadow({ mode: "open", delegatesFocus: false });
    this.#ui = buildUi(shadow, this.#strings);
    this.#threadList = new ThreadList(this.#ui.threadList);
    this.#wire();
  }

  // ---- public properties -------------------------------------------------------------------

  /**
   * A function giving the user's token (a JWT, or `{ "token": "<jwt>" }` as an object, JSON
   * text or fetch Response); called again when the relay refuses it (expired).
   */
  get getToken(): TokenFn | undefined {
    return this.#getToken;
  }
  set getToken(fn: TokenFn | undefined) {
    this.#getToken = fn;
    this.#queueRestart();
  }

  /** The words the widget uses; set a partial object to translate some of them. */
  get strings(): Strings {
    return this.#strings;
  }
  set strings(partial: Partial<Strings>) {
    this.#strings = { ...defaultStrings, ...partial };
    applyStrings(this.#ui, this.#strings);
    this.#renderThreads();
  }

  /** Extra SDK options (`transport`, `sendOver`, timings …); applied on the next (re)start. */
  get clientOptions(): Partial<ParleyClientOptions> {
    return this.#clientOptions;
  }
  set clientOptions(options: Partial<ParleyClientOptions>) {
    this.#clientOptions = { ...options };
    this.#queueRestart();
  }

  /** The SDK client in use (for the host page's own calls), once started. */
  get client(): ParleyClient | undefined {
    return this.#client;
  }

  /** The open conversation id. */
  get conversation(): string | undefined {
    return this.#active;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  connectedCallback(): void {
    // Properties set before the element was defined are own properties hiding the setters.
    for (const name of ["getToken", "strings", "clientOptions"] as const) {
      if (Object.hasOwn(this, name)) {
        const value = (this as Record<string, unknown>)[name];
        delete (this as Record<string, unknown>)[name];
        (this as Record<string, unknown>)[name] = value;
      }
    }
    this.#queueRestart();
  }

  disconnectedCallback(): void {
    // A move within the page reconnects at once: only stop when really gone.
    queueMicrotask(() => {
      if (!this.isConnected) this.#stop();
    });
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value) return;
    if (name === "no-threads") this.#ui.root.classList.toggle("no-threads", value !== null);
    if (name === "conversation" && this.#client) {
      if (value) this.#open(value);
      return;
    }
    if (name === "url" || name === "token") this.#queueRestart();
  }

  #queueRestart(): void {
    if (this.#restartQueued) return;
    this.#restartQueued = true;
    queueMicrotask(() => {
      this.#restartQueued = false;
      if (this.isConnected) void this.#start();
    });
  }

  async #start(): Promise<void> {
    this.#stop();
    const generation = ++this.#generation;
    const url = this.getAttribute("url") || ParleyChat.defaultUrl || globalThis.location?.origin;
    const attr = this.getAttribute("token");
    const fn = this.#getToken;
    if (!url || (!fn && !attr)) {
      this.#notice(this.#strings.notConfigured);
      return;
    }
    this.#notice(this.#strings.connecting, "connecting");
    // Learn the user (for "mine", the inbox and the outbox) from the first token.
    let first: string;
    try {
      first = await tokenFrom(fn ? await fn() : attr);
    } catch (error) {
      if (generation === this.#generation) this.#tokenFailed(error, generation);
      return;
    }
    if (generation !== this.#generation) return;
    this.#tokenFailures = 0;
    let handedOut = false;
    const token = fn
      ? async () => {
          if (!handedOut) {
            handedOut = true;
            return first;
          }
          try {
            return await tokenFrom(await fn());
          } catch (error) {
            // Not a token: stop here rather than let every connection ask again and again.
            if (error instanceof TokenShapeError) queueMicrotask(() => this.#tokenFailed(error, generation));
            throw error;
          }
        }
      : first;
    this.#me = subjectOf(first);
    const client = createParleyClient({
      ...this.#clientOptions,
      url,
      token,
      ...(this.#me === undefined ? {} : { userId: this.#me }),
    });
    this.#client = client;
    // Names and pictures arrive beside history and the thread list: show them where ids were.
    this.#offs.push(
      client.on("profiles", () => {
        this.#renderThreads();
        this.#view?.people();
      }),
    );
    if (!this.hasAttribute("no-threads")) this.#startInbox(client);
    const conversation = this.getAttribute("conversation");
    if (conversation) this.#open(conversation);
    else this.#renderEmpty();
  }

  #startInbox(client: ParleyClient): void {
    const inbox = client.inbox();
    this.#inbox = inbox;
    this.#offs.push(
      inbox.on("threads", (rows) => {
        this.#threads = rows;
        this.#inboxLoaded = true;
        if (!this.#active && !this.getAttribute("conversation") && rows[0]) this.#open(rows[0].id);
        this.#renderThreads();
        this.#renderEmpty();
      }),
      inbox.on("state", ({ newState, reason }) => {
        // The list is emitted just after the state: poll the presence of its rows then.
        if (newState === State.Live) queueMicrotask(() => void this.#pollPresence());
        else {
          // Who is online is unknown while away: no stale dots.
          this.#online.clear();
          this.#renderThreads();
          this.#renderEmpty();
        }
        // With a conversation open, its view says so and halts (ViewHost.refused).
        if (newState === State.Closed && reason === "unauthorized" && !this.#view) {
          this.#notice(this.#strings.unauthorized, "closed", [this.#strings.tryAgain, () => this.#start()]);
          setComposer(this.#ui, this.#strings.sendSignIn);
          this.#halt();
        }
      }),
    );
    const presence = setInterval(() => void this.#pollPresence(), PRESENCE_POLL_MS);
    this.#offs.push(() => clearInterval(presence));
  }

  /**
   * `getToken` failed. A value that is not a token is the host page's mistake: said once on the
   * console (its shape, never its contents) and shown, with no retry loop. A failure to get
   * one (the network, the host's endpoint) is tried again shortly.
   */
  #tokenFailed(error: unknown, generation: number): void {
    if (generation !== this.#generation) return;
    const s = this.#strings;
    if (error instanceof TokenShapeError) {
      this.#stop();
      console.error(error.message);
      this.#notice(s.badToken, "closed", [s.tryAgain, () => this.#start()]);
      setComposer(this.#ui, s.sendSignIn);
      return;
    }
    if (++this.#tokenFailures === 1)
      console.warn("parley-chat: getToken failed, trying again every 5 s:", error);
    // Nothing is cached: the thread list and the main pane say what they wait for.
    this.#signingIn = true;
    const offline = globalThis.navigator?.onLine === false;
    this.#notice(offline ? s.offline : s.signInFailed, offline ? "offline" : "reconnecting");
    setComposer(this.#ui, s.sendWaitSignIn);
    this.#renderThreads();
    const single = this.hasAttribute("conversation") || this.hasAttribute("no-threads");
    this.#ui.top.replaceChildren(h("p", { class: "empty" }, single ? s.messagesOffline : s.threadsOffline));
    const timer = setTimeout(() => {
      if (generation === this.#generation && this.isConnected) void this.#start();
    }, 5000);
    this.#offs.push(() => clearTimeout(timer));
  }

  /**
   * The token was refused for good: every connection and timer stops (the inbox's reconnects,
   * presence polls, reads, each asking `getToken` again and meeting a 401), and what is shown
   * stays, with the banner's "Try again", which starts over.
   */
  #halt(): void {
    this.#generation++;
    for (const off of this.#offs.splice(0)) off();
    clearTimeout(this.#titleTimer);
    this.#client?.close();
  }

  #stop(): void {
    this.#view?.dispose();
    this.#view = undefined;
    this.#halt();
    this.#background.clear();
    this.#client = undefined;
    this.#inbox = undefined;
    this.#active = undefined;
    this.#threads = [];
    this.#inboxLoaded = false;
    this.#signingIn = false;
    this.#online.clear();
    this.#titles.clear();
    this.#fetchedMembers.clear();
    this.#renderThreads();
    setComposer(this.#ui, "");
    const ui = this.#ui;
    ui.pill.hidden = true;
    for (const el of [ui.list, ui.top, ui.typing, ui.presence, ui.title]) el.replaceChildren();
  }

  // ---- conversations -------------------------------------------------------------------------

  /** Opens conversation `id` in the message view. */
  #open(id: string, focus = false): void {
    const client = this.#client;
    if (!client || id === this.#active) return;
    this.#leave();
    this.#active = id;
    const conversation = client.conversation(id);
    this.#background.delete(conversation);
    const view = new ConversationView(conversation, this.#me, this.#ui, {
      strings: () => this.#strings,
      locale: () => this.closest("[lang]")?.getAttribute("lang") || globalThis.navigator?.language,
      name: this.#name,
      picture: this.#picture,
      onPresence: (cid, online) => {
        if (online.length) this.#online.set(cid, online);
        else this.#online.delete(cid);
        this.#renderThreads();
      },
      onLive: () => this.#fetchTitle(id),
      reopen: () => {
        this.#leave(true);
        this.#open(id, true);
      },
      restart: () => void this.#start(),
      refused: () => this.#halt(),
    });
    this.#view = view;
    setText(this.#ui.title, this.#titleOf(id));
    view.start();
    this.#renderThreads();
    this.#ui.root.classList.remove("open");
    this.#ui.toggle.setAttribute("aria-expanded", "false");
    this.#fetchTitle(id);
    if (focus) this.#ui.input.focus();
    this.dispatchEvent(new CustomEvent("parley-open", { detail: { conversation: id } }));
  }

  /**
   * Asks the relay for the open conversation's title when the thread list does not have it.
   * A failure (the relay down at load) is tried again, backing off, and when the conversation
   * gets live: the header must not keep the raw id.
   */
  #fetchTitle(id: string, attempt = 0): void {
    const client = this.#client;
    if (!client || this.#active !== id || this.#titleKnown(id)) return;
    clearTimeout(this.#titleTimer);
    // A halt (a refused token) keeps the client to show what it had: the generation tells.
    const generation = this.#generation;
    client.api.conversation(id).then(
      (info) => {
        this.#titles.set(id, info.title || "");
        this.#fetchedMembers.set(
          id,
          info.members.map((m) => m.userId),
        );
        if (this.#active === id) setText(this.#ui.title, this.#titleOf(id));
      },
      (error: { status?: number }) => {
        // Not a member, or no such conversation: the view says so; asking again cannot help.
        if (error?.status === 403 || error?.status === 404 || generation !== this.#generation) return;
        const delay = Math.min(TITLE_RETRY_MAX_MS, 1000 * 2 ** attempt);
        this.#titleTimer = setTimeout(() => this.#fetchTitle(id, attempt + 1), delay);
      },
    );
  }

  /** Leaves the open conversation; one with unsent messages stays open until they are stored. */
  #leave(closeAll = false): void {
    const view = this.#view;
    this.#view = undefined;
    this.#active = undefined;
    if (!view) return;
    view.dispose();
    const conversation = view.conversation;
    if (!closeAll && conversation.pending.length > 0) {
      this.#background.add(conversation);
      const check = () => {
        if (conversation.pending.length === 0 && this.#view?.conversation !== conversation) {
          this.#background.delete(conversation);
          conversation.close();
          offSent();
          offFailed();
        }
      };
      const offSent = conversation.on("sent", () => queueMicrotask(check));
      const offFailed = conversation.on("failed", () => queueMicrotask(check));
    } else {
      conversation.close();
    }
  }

  #titleKnown(id: string): boolean {
    return this.#titles.has(id) || this.#threads.some((t) => t.id === id && t.title);
  }

  #titleOf(id: string): string {
    const t = this.#threads.find((row) => row.id === id);
    const title = t?.title || this.#titles.get(id);
    if (title) return title;
    const members = t?.members ?? this.#fetchedMembers.get(id) ?? [];
    const others = members.filter((m) => m !== this.#me);
    return others.length ? others.map(this.#name).join(", ") : id;
  }

  // ---- the thread list and the empty main pane ---------------------------------------------

  #renderThreads(): void {
    const ui = this.#ui;
    const s = this.#strings;
    const focused = this.shadowRoot?.activeElement;
    const focusedId = focused instanceof HTMLElement ? focused.dataset.id : undefined;
    const total = this.#threadList.render({
      threads: this.#threads,
      active: this.#active,
      me: this.#me,
      online: this.#online,
      loaded: this.#inboxLoaded,
      offline:
        this.#signingIn ||
        this.#inbox?.state === State.Reconnecting ||
        globalThis.navigator?.onLine === false,
      visible: document.visibilityState !== "hidden",
      strings: s,
      title: (id) => this.#titleOf(id),
      name: this.#name,
      picture: this.#picture,
    });
    if (focusedId && this.shadowRoot?.activeElement !== focused) this.#threadList.button(focusedId)?.focus();
    if (this.#active) setText(ui.title, this.#titleOf(this.#active));
    const toggleLabel = total > 0 ? `${s.showThreads}, ${fmt(s.unread, { count: total })}` : s.showThreads;
    ui.toggle.setAttribute("aria-label", toggleLabel);
    ui.toggle.textContent = total > 0 ? `☰ ${total}` : "☰";
    if (total !== this.#unread) {
      this.#unread = total;
      this.dispatchEvent(new CustomEvent("parley-unread", { detail: { unread: total } }));
    }
  }

  /**
   * The main pane while no conversation is open: why it is empty (no conversations at all, or
   * not connected yet), also on a narrow screen where the thread list is a closed drawer.
   */
  #renderEmpty(): void {
    if (this.#view || !this.#client) return;
    const s = this.#strings;
    const waiting = !this.#inboxLoaded && !this.hasAttribute("no-threads");
    const offline = this.#inbox?.state === State.Reconnecting || globalThis.navigator?.onLine === false;
    this.#notice(
      waiting ? (offline ? s.reconnecting : s.connecting) : "",
      offline ? "reconnecting" : "connecting",
    );
    const text = !waiting
      ? this.#threads.length || this.hasAttribute("no-threads")
        ? s.chooseConversation
        : s.noThreadsHelp
      : offline
        ? s.threadsOffline
        : "";
    this.#ui.top.replaceChildren(...(text ? [h("p", { class: "empty" }, text)] : []));
    // With conversations to choose from, say so; with none, the pane above says why.
    setComposer(this.#ui, this.#threads.length ? s.sendChoose : "");
  }

  async #pollPresence(): Promise<void> {
    const client = this.#client;
    if (!client || document.visibilityState === "hidden") return;
    const ids = this.#threads
      .slice(0, PRESENCE_THREADS)
      .map((t) => t.id)
      .filter((id) => id !== this.#active);
    await Promise.all(
      ids.map(async (id) => {
        try {
          const online = await client.api.presence(id);
          if (this.#client === client && id !== this.#active) this.#online.set(id, online);
        } catch {
          // Unknown now: no dot rather than a stale one. Tried again next round.
          this.#online.delete(id);
        }
      }),
    );
    if (this.#client === client) this.#renderThreads();
  }

  // ---- wiring ------------------------------------------------------------------------------------

  #wire(): void {
    const ui = this.#ui;
    ui.threadList.addEventListener("click", (event) => {
      const button = (event.target as Element).closest?.("button.thread") as HTMLButtonElement | null;
      const id = button?.dataset.id;
      if (!id) return;
      if (id === this.#active) {
        ui.root.classList.remove("open");
        ui.input.focus();
        return;
      }
      this.#open(id, true);
    });
    ui.threadList.addEventListener("keydown", (event) => {
      const buttons = [...ui.threadList.querySelectorAll<HTMLButtonElement>("button.thread")];
      const at = buttons.indexOf(this.shadowRoot?.activeElement as HTMLButtonElement);
      if (at < 0) return;
      const next =
        event.key === "ArrowDown"
          ? at + 1
          : event.key === "ArrowUp"
            ? at - 1
            : event.key === "Home"
              ? 0
              : event.key === "End"
                ? buttons.length - 1
                : -2;
      if (next === -2) {
        if (event.key === "Escape" && ui.root.classList.contains("open")) this.#closeDrawer();
        return;
      }
      event.preventDefault();
      buttons[Math.max(0, Math.min(buttons.length - 1, next))]?.focus();
    });
    ui.toggle.addEventListener("click", () => {
      const open = !ui.root.classList.contains("open");
      ui.root.classList.toggle("open", open);
      ui.toggle.setAttribute("aria-expanded", String(open));
      const list = ui.threadList;
      if (open)
        (
          list.querySelector<HTMLElement>("[aria-current]") ?? list.querySelector<HTMLElement>("button")
        )?.focus();
    });
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    ui.input.addEventListener("keydown", (event) => {
      const plain = !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey;
      const view = this.#view;
      if (
        (event.key === "Enter" && plain && this.#submit()) ||
        // Up in an empty composer edits my last message; Esc stops replying.
        (event.key === "ArrowUp" && plain && !ui.input.value && view?.editLast()) ||
        (event.key === "Escape" && view?.cancelReply())
      )
        event.preventDefault();
    });
    ui.replyCancel.addEventListener("click", () => {
      this.#view?.cancelReply();
      ui.input.focus();
    });
    ui.input.addEventListener("input", () => {
      this.#autosize();
      if (ui.input.value.trim()) this.#view?.conversation.typing();
    });
    document.addEventListener("visibilitychange", () => this.#renderThreads());
    const onNetwork = () => {
      // Back online while waiting for the first token: ask now rather than at the next try.
      const offline = globalThis.navigator?.onLine === false;
      if (this.#signingIn && !offline) void this.#start();
      // Offline, who is online is unknown: no stale dots; back online, ask again.
      if (offline) this.#online.clear();
      else void this.#pollPresence();
      this.#renderThreads();
      this.#renderEmpty();
    };
    globalThis.addEventListener?.("online", onNetwork);
    globalThis.addEventListener?.("offline", onNetwork);
  }

  #closeDrawer(): void {
    this.#ui.root.classList.remove("open");
    this.#ui.toggle.setAttribute("aria-expanded", "false");
    this.#ui.toggle.focus();
  }

  /** Sends what the composer holds; true (the key was used) whatever happened. */
  #submit(): true {
    const view = this.#view;
    const body = this.#ui.input.value.trim();
    if (view && body && !this.#ui.input.disabled) {
      this.#ui.input.value = "";
      this.#autosize();
      view.send(body);
    }
    return true;
  }

  #autosize(): void {
    const input = this.#ui.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`;
  }

  /** A message in the banner while no conversation is open. */
  #notice(text: string, state = "notice", action?: [string, () => void]): void {
    if (this.#view) return;
    setBanner(this.#ui, state, text, action);
    if (!this.#active) setText(this.#ui.title, "");
  }
}
