/**
 * `<parley-chat>`: a chat for one signed-in user, in a shadow root, on the Parley SDK.
 *
 * ```html
 * <parley-chat url="https://chat.example.com" conversation="support-42"></parley-chat>
 * <script>document.querySelector("parley-chat").getToken = () => fetch("/chat-token").then((r) => r.text());</script>
 * ```
 *
 * Attributes: `url` (default: where the script came from), `conversation` (default: the most
 * recent thread), `token` (or the `getToken` property, called again when a token expires),
 * `no-threads` (hide the thread list). Properties: `strings` (translations), `clientOptions`
 * (SDK options such as `transport`).
 */
import { createParleyClient, type ParleyClient, type ParleyClientOptions } from "../client.ts";
import type { Conversation } from "../conversation.ts";
import type { Inbox } from "../inbox.ts";
import { subjectOf } from "../token.ts";
import type { ThreadItem } from "../types.ts";
import { h, setText } from "./dom.ts";
import { defaultStrings, fmt, type Strings } from "./strings.ts";
import { applyStrings, buildUi, type Ui } from "./ui.ts";
import { ConversationView } from "./view.ts";

type TokenFn = () => string | Promise<string>;

/** Presence of the threads not open is refreshed this often (while the page is visible). */
const PRESENCE_POLL_MS = 20_000;
/** At most this many threads get their presence polled. */
const PRESENCE_THREADS = 20;

export class ParleyChat extends HTMLElement {
  static readonly observedAttributes = ["url", "token", "conversation", "no-threads"];
  /** The relay URL used when there is no `url` attribute (the bundle sets it to its own origin). */
  static defaultUrl: string | undefined;

  #ui: Ui;
  #strings: Strings = { ...defaultStrings };
  #getToken: TokenFn | undefined;
  #clientOptions: Partial<ParleyClientOptions> = {};
  #client: ParleyClient | undefined;
  #me: string | undefined;
  #inbox: Inbox | undefined;
  #view: ConversationView | undefined;
  /** Conversations left while their outbox still had messages: kept open until it empties. */
  #background = new Set<Conversation>();
  #threads: ThreadItem[] = [];
  #threadButtons = new Map<string, { li: HTMLLIElement; button: HTMLButtonElement }>();
  #online = new Map<string, string[]>();
  #inboxLoaded = false;
  #unread = 0;
  #emptyThreads = h("li", { class: "tpreview empty" });
  #active: string | undefined;
  #generation = 0;
  #restartQueued = false;
  #offs: Array<() => void> = [];

  constructor() {
    super();
    const shadow = this.attachShadow({ mode: "open", delegatesFocus: false });
    this.#ui = buildUi(shadow, this.#strings);
    this.#wire();
  }

  // ---- public properties -------------------------------------------------------------------

  /** A function returning the user's token; called again when the relay refuses it (expired). */
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
      first = fn ? await fn() : (attr as string);
    } catch (error) {
      if (generation === this.#generation) {
        this.#notice(
          fmt(this.#strings.closed, { reason: String((error as Error)?.message ?? error) }),
          "closed",
        );
        this.#retryStartLater(generation);
      }
      return;
    }
    if (generation !== this.#generation) return;
    let handedOut = false;
    const token = fn
      ? () => {
          if (handedOut) return fn();
          handedOut = true;
          return first;
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
    if (!this.hasAttribute("no-threads")) {
      const inbox = client.inbox();
      this.#inbox = inbox;
      this.#offs.push(
        inbox.on("threads", (rows) => {
          this.#threads = rows;
          this.#inboxLoaded = true;
          if (!this.#active && !this.getAttribute("conversation") && rows[0]) this.#open(rows[0].id);
          this.#renderThreads();
        }),
      );
      const presence = setInterval(() => void this.#pollPresence(), PRESENCE_POLL_MS);
      this.#offs.push(() => clearInterval(presence));
      this.#offs.push(inbox.once("threads", () => void this.#pollPresence()));
    }
    const conversation = this.getAttribute("conversation");
    if (conversation) this.#open(conversation);
    else if (this.hasAttribute("no-threads")) this.#notice(this.#strings.chooseConversation);
    else this.#notice("");
  }

  #retryStartLater(generation: number): void {
    const timer = setTimeout(() => {
      if (generation === this.#generation && this.isConnected) void this.#start();
    }, 5000);
    this.#offs.push(() => clearTimeout(timer));
  }

  #stop(): void {
    this.#generation++;
    for (const off of this.#offs.splice(0)) off();
    this.#view?.dispose();
    this.#view = undefined;
    this.#background.clear();
    this.#client?.close();
    this.#client = undefined;
    this.#inbox = undefined;
    this.#active = undefined;
    this.#threads = [];
    this.#inboxLoaded = false;
    this.#online.clear();
    this.#renderThreads();
    this.#setComposerEnabled(false);
    const ui = this.#ui;
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
      onPresence: (cid, online) => {
        this.#online.set(cid, online);
        this.#renderThreads();
      },
      reopen: () => {
        this.#leave(true);
        this.#open(id, true);
      },
    });
    this.#view = view;
    setText(this.#ui.title, this.#titleOf(id));
    view.start();
    this.#setComposerEnabled(true);
    this.#renderThreads();
    this.#ui.root.classList.remove("open");
    this.#ui.toggle.setAttribute("aria-expanded", "false");
    if (!this.#titleKnown(id)) {
      void client.api.conversation(id).then(
        (info) => {
          if (this.#active === id && info.title) setText(this.#ui.title, info.title);
        },
        () => undefined,
      );
    }
    if (focus) this.#ui.input.focus();
    this.dispatchEvent(new CustomEvent("parley-open", { detail: { conversation: id } }));
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
    return this.#threads.some((t) => t.id === id && t.title);
  }

  #titleOf(id: string): string {
    const t = this.#threads.find((row) => row.id === id);
    if (!t) return id;
    if (t.title) return t.title;
    const others = t.members.filter((m) => m !== this.#me);
    return others.length ? others.join(", ") : id;
  }

  // ---- the thread list -----------------------------------------------------------------------

  #renderThreads(): void {
    const ui = this.#ui;
    const s = this.#strings;
    const list = ui.threadList;
    const focused = this.shadowRoot?.activeElement;
    const focusedId = focused instanceof HTMLElement ? focused.dataset.id : undefined;
    const seen = new Set<string>();
    let total = 0;
    this.#threads.forEach((t, index) => {
      seen.add(t.id);
      let entry = this.#threadButtons.get(t.id);
      if (!entry) {
        const button = h("button", { type: "button", class: "thread", "data-id": t.id, part: "thread" });
        entry = { li: h("li", {}, button), button };
        this.#threadButtons.set(t.id, entry);
      }
      const active = t.id === this.#active;
      const unread = active && document.visibilityState !== "hidden" ? 0 : t.unread;
      total += unread;
      const online = (this.#online.get(t.id) ?? []).some((u) => u !== this.#me);
      const title = this.#titleOf(t.id);
      const last = t.lastMessage;
      const preview = last
        ? (last.senderId === this.#me ? s.youPrefix : `${last.senderId}: `) + last.body
        : "";
      const { button } = entry;
      if (active) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
      button.dataset.unread = String(unread);
      const children: Array<Node | false> = [
        h(
          "span",
          { class: "avatar", "aria-hidden": "true" },
          (title.trim()[0] ?? "#").toUpperCase(),
          online && h("span", { class: "dot", "data-online": "" }),
        ),
        h(
          "span",
          { class: "tmain" },
          h("span", { class: "ttitle" }, title),
          h("span", { class: "tpreview" }, preview.slice(0, 120)),
        ),
        unread > 0 &&
          h("span", { class: "badge", "aria-hidden": "true" }, unread > 99 ? "99+" : String(unread)),
        h(
          "span",
          { class: "sr" },
          [unread > 0 ? fmt(s.unread, { count: unread }) : "", online ? s.online : ""]
            .filter(Boolean)
            .map((x) => `, ${x}`)
            .join(""),
        ),
      ];
      button.replaceChildren(...children.filter((c): c is Node => c !== false));
      if (list.children[index] !== entry.li) list.insertBefore(entry.li, list.children[index] ?? null);
    });
    for (const [id, entry] of this.#threadButtons) {
      if (!seen.has(id)) {
        entry.li.remove();
        this.#threadButtons.delete(id);
      }
    }
    const empty = this.#threads.length === 0 && this.#inboxLoaded;
    if (empty && !this.#emptyThreads.isConnected) list.append(this.#emptyThreads);
    else if (!empty) this.#emptyThreads.remove();
    setText(this.#emptyThreads, s.noThreads);
    if (focusedId && this.shadowRoot?.activeElement !== focused)
      this.#threadButtons.get(focusedId)?.button.focus();
    const toggleLabel = total > 0 ? `${s.showThreads}, ${fmt(s.unread, { count: total })}` : s.showThreads;
    ui.toggle.setAttribute("aria-label", toggleLabel);
    ui.toggle.textContent = total > 0 ? `☰ ${total}` : "☰";
    if (total !== this.#unread) {
      this.#unread = total;
      this.dispatchEvent(new CustomEvent("parley-unread", { detail: { unread: total } }));
    }
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
          // Presence is a hint; try again next round.
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
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey) {
        event.preventDefault();
        this.#submit();
      }
    });
    ui.input.addEventListener("input", () => {
      this.#autosize();
      if (ui.input.value.trim()) this.#view?.conversation.typing();
    });
    document.addEventListener("visibilitychange", () => this.#renderThreads());
  }

  #closeDrawer(): void {
    this.#ui.root.classList.remove("open");
    this.#ui.toggle.setAttribute("aria-expanded", "false");
    this.#ui.toggle.focus();
  }

  #submit(): void {
    const view = this.#view;
    const body = this.#ui.input.value.trim();
    if (!view || !body) return;
    this.#ui.input.value = "";
    this.#autosize();
    view.send(body);
  }

  #autosize(): void {
    const input = this.#ui.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`;
  }

  #setComposerEnabled(enabled: boolean): void {
    this.#ui.input.disabled = !enabled;
    this.#ui.send.disabled = !enabled;
  }

  /** A message in the banner while no conversation is open. */
  #notice(text: string, state = "notice"): void {
    if (this.#view) return;
    this.#ui.banner.dataset.state = state;
    this.#ui.banner.replaceChildren(...(text ? [h("span", {}, text)] : []));
    if (!this.#active) setText(this.#ui.title, "");
  }
}
