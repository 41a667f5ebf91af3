/**
 * The sender's own messages that are not stored yet, from the SDK's outbox: pending ("Sending…"),
 * then gone once the stored message shows, or failed with the actions that can help. Retry is
 * offered only when sending again can succeed: a message too large for the relay (413) can only
 * be edited.
 */
import type { ParleyClientError } from "../errors.ts";
import type { OutboxEntry } from "../outbox/storage.ts";
import type { Message } from "../types.ts";
import { h } from "./dom.ts";
import { fmt, type Strings } from "./strings.ts";

interface PendingRow {
  li: HTMLLIElement;
  body: string;
}

export interface OutboxHost {
  strings(): Strings;
  /** Sends `body` again (a new message: the failed one was refused for good). */
  resend(body: string): void;
  /** Puts `body` back in the composer. */
  edit(body: string): void;
  /** Back to the composer. */
  focus(): void;
  /** A row changed in a way the reader must see. */
  reveal(el: Element): void;
}

export class OutboxRows {
  #rows = new Map<string, PendingRow>();

  readonly #list: HTMLOListElement;
  readonly #host: OutboxHost;

  constructor(list: HTMLOListElement, host: OutboxHost) {
    this.#host = host;
    this.#list = list;
  }

  /** The first pending row (stored messages are inserted before it). */
  get first(): HTMLLIElement | null {
    for (const row of this.#rows.values()) return row.li;
    return null;
  }

  get size(): number {
    return this.#rows.size;
  }

  add(entry: OutboxEntry): void {
    const key = entry.clientMessageId;
    if (this.#rows.has(key)) return;
    const li = h(
      "li",
      { class: "msg mine", "data-status": "pending", "data-client-id": key, part: "message" },
      h("p", { class: "body", dir: "auto" }, entry.body),
      h("p", { class: "status" }, this.#host.strings().sending),
    );
    this.#rows.set(key, { li, body: entry.body });
    this.#list.append(li);
  }

  /** Stored: the row waits for the stored message to show, unless it already does. */
  sent(key: string, message: Message, shownUpTo: number): void {
    const row = this.#rows.get(key);
    if (!row) return;
    if (message.seq <= shownUpTo) {
      this.drop(key);
      return;
    }
    row.li.dataset.status = "sent";
    row.li.querySelector(".status")?.remove();
  }

  failed(key: string, error: ParleyClientError): void {
    const row = this.#rows.get(key);
    if (!row) return;
    const s = this.#host.strings();
    const tooLarge = error.code === "too_large" || error.status === 413;
    row.li.dataset.status = "failed";
    const action = (label: string, cls: string, run: () => void) => {
      const button = h("button", { type: "button", class: cls }, label);
      button.addEventListener("click", () => {
        this.drop(key);
        run();
      });
      return button;
    };
    const status = row.li.querySelector(".status");
    status?.replaceChildren(
      h("span", {}, tooLarge ? s.tooLarge : fmt(s.failed, { reason: error.message || error.code })),
      tooLarge
        ? action(s.edit, "edit", () => this.#host.edit(row.body))
        : action(s.retry, "retry", () => this.#host.resend(row.body)),
      action(s.discard, "discard", () => this.#host.focus()),
    );
    if (status) this.#host.reveal(status);
  }

  drop(key: string): void {
    this.#rows.get(key)?.li.remove();
    this.#rows.delete(key);
  }
}
