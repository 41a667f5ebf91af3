/**
 * How people are shown: the one place a user id becomes a name and a face. Today the name is
 * the user id and the face its initials; user profiles (a display name and a picture per user,
 * from the relay) plug in here, and every label, list and avatar of the widget follows.
 */
import { h } from "./dom.ts";

/** The name shown for a user. */
export function displayName(userId: string): string {
  return userId;
}

/** Up to two initials of a name ("Design review" → "DR", "agent-sam" → "AS", "user-42" → "U"). */
export function initials(name: string): string {
  const words = name.split(/[\s._@|+:-]+/).filter((w) => /^\p{L}/u.test(w));
  const letters = words.length ? words.slice(0, 2) : [name];
  return (
    letters
      .map((w) => [...(w ?? "")][0] ?? "")
      .join("")
      .toUpperCase() || "#"
  );
}

/** An avatar: the initials of `name` (a picture once profiles have one). */
export function avatar(name: string): HTMLSpanElement {
  return h("span", { class: "avatar", "aria-hidden": "true" }, initials(name));
}
