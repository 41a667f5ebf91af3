/**
 * Times and days in the reader's locale: the time over each group of messages, and a day line
 * ("Today", "Yesterday", a date) where a new day starts.
 */
import type { Strings } from "./strings.ts";

/** A group of messages gets its time again after this long, however busy the talk. */
export const GROUP_MS = 5 * 60_000;

/** A short local time ("14:05", "2:05 PM"). */
export function timeOf(iso: string, locale: string | undefined): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  try {
    return new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" }).format(date);
  } catch {
    return date.toISOString().slice(11, 16);
  }
}

/** The local calendar day of a time, as a comparable key. */
export function dayKey(time: string | Date): string {
  const d = new Date(time);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** "Today", "Yesterday", or the date in the reader's locale (with the year when not this one). */
export function dayOf(iso: string, locale: string | undefined, s: Strings, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const key = dayKey(date);
  if (key === dayKey(now)) return s.today;
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (key === dayKey(yesterday)) return s.yesterday;
  const options: Intl.DateTimeFormatOptions = { weekday: "long", month: "long", day: "numeric" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  try {
    return new Intl.DateTimeFormat(locale, options).format(date);
  } catch {
    return iso.slice(0, 10);
  }
}
