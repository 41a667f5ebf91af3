/**
 * Stored messages as rows of the message list, and their grouping. A row shows its sender and
 * time when it starts a group: another sender, another day, or {@link GROUP_MS} since the
 * group's first message (so a long run of messages still gets a time every few minutes). A
 * new day gets a line of its own ("Today", "Yesterday", a date). A row also shows what changed
 * it: "edited", a deleted message's words instead of its body, the reactions as chips that
 * toggle yours, and, for a reply, a quote of the message it answers (a button to jump there).
 */
import type { Message } from "../types.ts";
import { button, h, put, setText } from "./dom.ts";
import { avatar } from "./people.ts";
import { fmt, type Strings } from "./strings.ts";
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
  picture(userId: string): string | null | undefined;
  /** A message shown or known (for a reply's quote). */
  original(seq: number): Message | undefined;
}

/** The row of a stored message (grouped by {@link regroup}). */
export function messageRow(m: Message, ctx: RowContext): Row {
  const li = h("li", {
    class: `msg ${m.senderId === ctx.me ? "mine" : "theirs"}`,
    "data-seq": m.seq,
    part: "message",
  });
  const row: Row = { li, message: m, start: Date.parse(m.createdAt) };
  fill(row, ctx);
  return row;
}

/** (Re)renders a row's content from `row.message`. */
export function fill(row: Row, ctx: RowContext): void {
  const m = row.message;
  const s = ctx.strings();
  const mine = m.senderId === ctx.me;
  const name = ctx.name(m.senderId);
  const locale = ctx.locale();
  const time = h("time", { datetime: m.createdAt }, timeOf(m.createdAt, locale));
  time.title = new Date(m.createdAt).toLocaleString(locale);
  const quoted = m.replyTo === undefined ? undefined : ctx.original(m.replyTo);
  const quote = quoted ? `${ctx.name(quoted.senderId)}: ${quoted.deleted ? s.deleted : quoted.body}` : "…";
  put(
    row.li,
    h(
      "div",
      { class: "meta" },
      !mine && avatar(name, ctx.picture(m.senderId)),
      h("span", { class: "sender" }, mine ? s.you : name),
      time,
    ),
    m.replyTo !== undefined &&
      button("quote", quote.slice(0, 200), fmt(s.inReplyTo, { text: quote }), {
        class: "quote",
        dir: "auto",
      }),
    h(
      "div",
      { class: "line" },
      h("p", { class: m.deleted ? "body deleted" : "body", dir: "auto" }, m.deleted ? s.deleted : m.body),
      !m.deleted && button("more", "⋯", s.actions, { class: "more", "aria-expanded": "false" }),
      m.editedAt && !m.deleted && h("span", { class: "edited" }, s.edited),
    ),
    h(
      "div",
      { class: "reacts" },
      ...Object.entries(m.reactions).map(([key, r]) => {
        const chip = button(`+${key}`, `${key} ${r.count}`, undefined, {
          class: "chip",
          "aria-pressed": String(r.users.includes(ctx.me as string)),
        });
        chip.title = r.users.map(ctx.name).join(", ");
        return chip;
      }),
    ),
  );
}

/** The stored row next to `row` in the list (`previous` or `next`), skipping day lines and pending rows. */
function near(rows: Map<number, Row>, row: Row, dir: "previousElementSibling" | "nextElementSibling") {
  for (let el = row.li[dir]; el; el = el[dir]) {
    const r = rows.get(Number((el as HTMLElement).dataset.seq));
    if (r?.li === el) return r;
  }
  return undefined;
}

/**
 * Groups the rows from seq `from` on (in list order) against the row before each. Stops at the
 * first row whose grouping did not change: the rows after it cannot change either.
 */
export function regroup(rows: Map<number, Row>, from: number, ctx: RowContext): void {
  for (let row = rows.get(from); row; row = near(rows, row, "nextElementSibling")) {
    const prev = near(rows, row, "previousElementSibling");
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
    if (!changed && row.message.seq !== from) return;
  }
}
