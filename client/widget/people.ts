/**
 * How people are shown: the one place a user id becomes a name and a face. Names and pictures
 * come from the relay's profiles (`client.profile(id)`); until one arrives, or without one, the
 * name is the user id and the face its initials. Every label, list and avatar follows.
 */
import type { ParleyClient } from "../client.ts";
import { h } from "./dom.ts";

/** The name shown for a user: their profile's name, else their id. */
export const nameOf = (client: ParleyClient | undefined, userId: string): string =>
  client?.profile(userId)?.name || userId;

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

/**
 * An avatar: the initials of `name`, under the picture when there is one. A picture that fails
 * to load is removed, so the initials show (decorative: the name is always written beside it).
 */
export function avatar(name: string, picture?: string | null): HTMLSpanElement {
  const face = h("span", { class: "avatar", "aria-hidden": "true" }, initials(name));
  if (picture) {
    const img = h("img", { src: picture, alt: name, loading: "lazy", referrerpolicy: "no-referrer" });
    img.onerror = () => img.remove();
    face.append(img);
  }
  return face;
}
