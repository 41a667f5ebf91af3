/**
 * The thread list: one button per conversation (title, last message, unread badge, presence
 * dot), kept in place across renders so focus and scroll survive, and what the list says when
 * it has no rows: "No conversations yet" once loaded, or that it waits for a connection.
 */
import type { ThreadItem } from "../types.ts";
import { h, setText } from "./dom.ts";
import { avatar } from "./people.ts";
import { fmt, type Strings } from "./strings.ts";

export interface ThreadView {
  threads: ThreadItem[];
  active: string | undefined;
  me: string | undefined;
  /** Who is online in each conversation (absent: unknown, no dot). */
  online: Map<string, string[]>;
  /** Whether the list has loaded at least once; if not, whether it is waiting for a connection. */
  loaded: boolean;
  offline: boolean;
  /** Unread counts of the open thread are not counted while the page is visible. */
  visible: boolean;
  strings: Strings;
  title(id: string): string;
  name(userId: string): string;
  picture(userId: string): string | null | undefined;
}

export class ThreadList {
  #buttons = new Map<string, { li: HTMLLIElement; button: HTMLButtonElement }>();
  #empty = h("li", { class: "tpreview empty" });

  readonly #list: HTMLUListElement;

  constructor(list: HTMLUListElement) {
    this.#list = list;
  }

  /** Renders `v` and returns the total unread count shown. */
  render(v: ThreadView): number {
    const s = v.strings;
    const list = this.#list;
    const seen = new Set<string>();
    let total = 0;
    v.threads.forEach((t, index) => {
      seen.add(t.id);
      let entry = this.#buttons.get(t.id);
      if (!entry) {
        const button = h("button", { type: "button", class: "thread", "data-id": t.id, part: "thread" });
        entry = { li: h("li", {}, button), button };
        this.#buttons.set(t.id, entry);
      }
      const active = t.id === v.active;
      const unread = active && v.visible ? 0 : t.unread;
      total += unread;
      const online = (v.online.get(t.id) ?? []).some((u) => u !== v.me);
      const title = v.title(t.id);
      const last = t.lastMessage;
      const preview = last
        ? (last.senderId === v.me ? s.youPrefix : `${v.name(last.senderId)}: `) +
          (last.deleted ? s.deleted : last.body)
        : "";
      const { button } = entry;
      if (active) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
      button.dataset.unread = String(unread);
      const others = t.members.filter((u) => u !== v.me);
      // A conversation with one other person and no title shows that person's face.
      const face = avatar(title, !t.title && others.length === 1 ? v.picture(others[0] as string) : null);
      if (online) face.append(h("span", { class: "dot", "data-online": "" }));
      button.replaceChildren(
        face,
        h(
          "span",
          { class: "tmain" },
          h("span", { class: "ttitle", dir: "auto" }, title),
          h("span", { class: "tpreview", dir: "auto" }, preview.slice(0, 120)),
        ),
        ...(unread > 0
          ? [h("span", { class: "badge", "aria-hidden": "true" }, unread > 99 ? "99+" : String(unread))]
          : []),
        h(
          "span",
          { class: "sr" },
          [unread > 0 ? fmt(s.unread, { count: unread }) : "", online ? s.online : ""]
            .filter(Boolean)
            .map((x) => `, ${x}`)
            .join(""),
        ),
      );
      if (list.children[index] !== entry.li) list.insertBefore(entry.li, list.children[index] ?? null);
    });
    for (const [id, entry] of this.#buttons) {
      if (!seen.has(id)) {
        entry.li.remove();
        this.#buttons.delete(id);
      }
    }
    const empty = v.threads.length === 0 && (v.loaded || v.offline);
    if (empty && !this.#empty.isConnected) list.append(this.#empty);
    else if (!empty) this.#empty.remove();
    setText(this.#empty, v.loaded ? s.noThreads : s.threadsOffline);
    return total;
  }

  /** The button of thread `id`, if listed. */
  button(id: string): HTMLButtonElement | undefined {
    return this.#buttons.get(id)?.button;
  }
}
