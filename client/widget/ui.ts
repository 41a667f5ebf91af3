/** The skeleton of the widget inside its shadow root, and the references the code needs. */
import { h } from "./dom.ts";
import type { Strings } from "./strings.ts";
import { styles } from "./styles.ts";

export interface Ui {
  root: HTMLDivElement;
  threads: HTMLElement;
  threadsTitle: HTMLHeadingElement;
  threadList: HTMLUListElement;
  toggle: HTMLButtonElement;
  title: HTMLHeadingElement;
  presence: HTMLSpanElement;
  banner: HTMLDivElement;
  scroller: HTMLDivElement;
  top: HTMLDivElement;
  list: HTMLOListElement;
  typing: HTMLDivElement;
  /** "New messages ↓", shown while the reader is scrolled up and others write. */
  pill: HTMLButtonElement;
  announcer: HTMLDivElement;
  /** Why the composer is off, in its place. */
  note: HTMLParagraphElement;
  /** The message being answered, over the composer (with a button to stop replying). */
  replying: HTMLDivElement;
  replyText: HTMLSpanElement;
  replyCancel: HTMLButtonElement;
  form: HTMLFormElement;
  input: HTMLTextAreaElement;
  send: HTMLButtonElement;
}

export function buildUi(shadow: ShadowRoot, s: Strings): Ui {
  const style = h("style");
  style.textContent = styles;
  const threadList = h("ul", { role: "list" });
  const threadsTitle = h("h2", { id: "threads-title" });
  const threads = h(
    "nav",
    { class: "threads", id: "threads", "aria-labelledby": "threads-title", part: "threads" },
    threadsTitle,
    threadList,
  );
  const toggle = h("button", {
    type: "button",
    class: "toggle",
    "aria-controls": "threads",
    "aria-expanded": "false",
  });
  const title = h("h2", { id: "chat-title" });
  const presence = h("span", { class: "presence" });
  const banner = h("div", { class: "banner", role: "status", "aria-live": "polite", part: "banner" });
  const top = h("div", { class: "top" });
  const list = h("ol", { role: "list", class: "messages" });
  const scroller = h(
    "div",
    { class: "scroller", tabindex: "0", role: "region", part: "messages" },
    top,
    list,
  );
  const typing = h("div", { class: "typing", part: "typing" });
  const announcer = h("div", { class: "sr", "aria-live": "polite", "aria-relevant": "additions" });
  const pill = h("button", { type: "button", class: "pill", part: "pill", hidden: true });
  const note = h("p", { class: "note", id: "composer-note", hidden: true });
  const input = h("textarea", {
    rows: "1",
    part: "input",
    enterkeyhint: "send",
    dir: "auto",
    "aria-describedby": "composer-note",
  });
  const send = h("button", { type: "submit", class: "send", part: "send" });
  const replyText = h("span", { dir: "auto" });
  const replyCancel = h("button", { type: "button" }, "✕");
  const replying = h("div", { class: "replying", hidden: true }, replyText, replyCancel);
  const form = h("form", { part: "composer" }, note, replying, input, send);
  const chat = h(
    "section",
    { class: "chat", "aria-labelledby": "chat-title" },
    h("header", {}, toggle, title, presence),
    banner,
    scroller,
    pill,
    typing,
    form,
    announcer,
  );
  const root = h("div", { class: "root", part: "root" }, threads, chat);
  shadow.append(style, root);
  const ui: Ui = {
    root,
    threads,
    threadsTitle,
    threadList,
    toggle,
    title,
    presence,
    banner,
    scroller,
    top,
    list,
    typing,
    pill,
    announcer,
    note,
    replying,
    replyText,
    replyCancel,
    form,
    input,
    send,
  };
  applyStrings(ui, s);
  return ui;
}

/** The fixed labels (called again when `strings` change). */
export function applyStrings(ui: Ui, s: Strings): void {
  ui.threadsTitle.textContent = s.threads;
  ui.toggle.textContent = "☰";
  ui.toggle.setAttribute("aria-label", s.showThreads);
  ui.scroller.setAttribute("aria-label", s.messages);
  ui.input.setAttribute("aria-label", s.composer);
  ui.input.placeholder = s.placeholder;
  ui.send.textContent = s.send;
  ui.pill.textContent = s.newMessages;
  ui.replyCancel.setAttribute("aria-label", s.cancelReply);
}

/** Turns the composer on (`reason` null) or off, saying why. */
export function setComposer(ui: Ui, reason: string | null): void {
  ui.input.disabled = ui.send.disabled = reason !== null;
  ui.note.hidden = !reason;
  ui.note.textContent = reason ?? "";
}

/** Shows `text` in the banner (`state` styles it), with one action button if given. */
export function setBanner(
  ui: Ui,
  state: string,
  text: string,
  action?: [label: string, run: () => void],
): void {
  const banner = ui.banner;
  banner.dataset.state = state;
  const parts: Node[] = text ? [h("span", {}, text)] : [];
  if (text && action) {
    const button = h("button", { type: "button" }, action[0]);
    button.addEventListener("click", action[1]);
    parts.push(button);
  }
  banner.replaceChildren(...parts);
}
