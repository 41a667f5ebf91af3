/**
 * Stored messages as rows of the message list, and their grouping. A row shows its sender and
 * time when it starts a group: another sender, another day, or {@link GROUP_MS} since the
 * group's first message (so a long run of messages still gets a time every few minutes). A
 * new day gets a line of its own ("Today", "Yesterday", a date).
 */
import type { Message } from "../types.ts";
import { h, setText } from "./dom.ts";
import { avatar } from "./people.ts";
import type { Strings } from "./strings.ts";
import { dayKey, dayOf, GROUP_MS, timeOf } from "./time.ts";

export interface Row {
  li: HTMLLIElement;
  message: Message;
  /** When the row's group started (ms). */
  start: number;
  /** The day line before the row (a list item of its own), when it starts a day. */
  day?: HTMLLIElement;
}

export interface RowContext {
  me: string | undefined;
  strings(): Strings;
  locale(): string | undefined;
  name(userId: string): string;
}

/** The row of a stored message (grouped by {@link regroup}). */
export function messageRow(m: Message, ctx: RowContext): Row {
  const mine = m.senderId === ctx.me;
  const name = ctx.name(m.senderId);
  const locale = ctx.locale();
  const time = h("time", { datetime: m.createdAt }, timeOf(m.createdAt, locale));
  time.title = new Date(m.createdAt).toLocaleString(locale);
  const li = h(
    "li",
    { class: `msg ${mine ? "mine" : "theirs"}`, "data-seq": m.seq, part: "message" },
    h(
      "div",
      { class: "meta" },
      !mine && avatar(name),
      h("span", { class: "sender" }, mine ? ctx.strings().you : name),
      time,
    ),
    h("p", { class: "body", dir: "auto" }, m.body),
  );
  return { li, message: m, start: Date.parse(m.createdAt) };
}

/**
 * Groups the rows from seq `from` on against the row before each. Stops at the first row whose
 * grouping did not change: the rows after it cannot change either.
 */
export function regroup(rows: Map<number, Row>, from: number, ctx: RowContext): void {
  for (let seq = from; ; seq++) {
    const row = rows.get(seq);
    if (!row) return;
    const prev = rows.get(seq - 1);
    const m = row.message;
    const at = Date.parse(m.createdAt);
    const newDay = !prev || dayKey(prev.message.createdAt) !== dayKey(m.createdAt);
    const cont =
      !newDay && prev !== undefined && prev.message.senderId === m.senderId && at - prev.start < GROUP_MS;
    const start = cont && prev ? prev.start : at;
    const changed =
      start !== row.start || newDay !== (row.day !== undefined) || cont !== row.li.classList.contains("cont");
    row.start = start;
    row.li.classList.toggle("cont", cont);
    if (newDay) {
      row.day ??= h("li", { class: "day" });
      setText(row.day, dayOf(m.createdAt, ctx.locale(), ctx.strings()));
      if (row.li.previousSibling !== row.day) row.li.before(row.day);
    } else if (row.day) {
      row.day.remove();
      row.day = undefined;
    }
    if (!changed && seq !== from) return;
  }
}
