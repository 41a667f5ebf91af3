/**
 * The widget bundle's entry (`/widget.js`): defines `<parley-chat>` and exposes the SDK on
 * `window.Parley` for pages that want more than the element.
 */
import { ParleyChat } from "./element.ts";

export { createParleyClient } from "../client.ts";
export { ParleyChat } from "./element.ts";
export { defaultStrings, type Strings } from "./strings.ts";

/** Where this script was loaded from: the relay, unless the page says otherwise. */
const script = typeof document === "undefined" ? null : document.currentScript;
if (script instanceof HTMLScriptElement && script.src) {
  const src = new URL(script.src, globalThis.location?.href);
  const path = src.pathname.replace(/\/widget\.js$/, "");
  ParleyChat.defaultUrl = src.origin + (path === src.pathname ? "" : path);
}

if (typeof customElements !== "undefined" && !customElements.get("parley-chat")) {
  customElements.define("parley-chat", ParleyChat);
}

declare global {
  interface HTMLElementTagNameMap {
    "parley-chat": ParleyChat;
  }
}
