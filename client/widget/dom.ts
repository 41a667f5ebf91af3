/**
 * The widget's only way to make DOM: elements with attributes and children, where a string
 * child becomes a Text node. User data is never parsed as HTML.
 */
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | null | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  put(el, ...children);
  return el;
}

/** A button that does `act` (its `data-act`, which the list's one click handler reads). */
export function button(act: string, text: string, label?: string, attrs: Record<string, string> = {}) {
  return h("button", { type: "button", "data-act": act, "aria-label": label, ...attrs }, text);
}

/** Replaces an element's children (a string becomes a Text node; null, undefined and false are skipped). */
export function put(el: Element, ...children: Child[]): void {
  el.replaceChildren(
    ...(children.filter((c) => c !== null && c !== undefined && c !== false) as Array<Node | string>),
  );
}

/** Replaces an element's children with text (or nothing). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** "a, b and c" in the page's language. */
export function listOf(names: string[], locale: string | undefined): string {
  try {
    return new Intl.ListFormat(locale, { type: "conjunction" }).format(names);
  } catch {
    return names.join(", ");
  }
}
