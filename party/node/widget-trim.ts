/**
 * An esbuild plugin for the widget bundle only: it takes out of `partysocket/ws` the code our
 * WebSocket transport (`client/transports/websocket.ts`) can never reach in a browser, which
 * is about 640 bytes of the widget's 30 KB gzipped budget. The npm SDK keeps partysocket whole.
 *
 * - `this._debug(…)`: logs only with partysocket's `debug` option, which the transport never
 *   sets (its options are fixed: `WebSocket`, `maxRetries`, `maxEnqueuedMessages`,
 *   `connectionTimeout`).
 * - `console.error(…)` ×2: the advice when `EventTarget` or `WebSocket` is missing (Node
 *   without `ws`); every browser the widget supports has both.
 * - `console.warn(…)` ×1: `send()` after `close()`; the transport sends only on an open socket.
 *
 * Each call is replaced by `void 0` (valid wherever a call statement was; the minifier drops
 * it). If partysocket's source no longer has exactly these calls, the build fails here, so an
 * upgrade is looked at again rather than trimmed blindly.
 */
import { readFile } from "node:fs/promises";
import type { Plugin } from "esbuild";

/** The calls taken out, and how many of each partysocket 1.3.0's `dist/ws.js` has. */
const CALLS: ReadonlyArray<readonly [head: string, count: number]> = [
  ["this._debug(", 17],
  ["console.error(", 2],
  ["console.warn(", 1],
];

export const trimPartySocket: Plugin = {
  name: "parley-trim-partysocket",
  setup(build) {
    build.onLoad({ filter: /[\\/]partysocket[\\/]dist[\\/]ws\.js$/ }, async (args) => {
      let source = await readFile(args.path, "utf8");
      for (const [head, count] of CALLS) {
        const { text, removed } = removeCalls(source, head);
        if (removed !== count) {
          throw new Error(
            `widget bundle: expected ${count} \`${head}…)\` in ${args.path}, found ${removed}; check party/node/widget-trim.ts against this partysocket`,
          );
        }
        source = text;
      }
      return { contents: source, loader: "js" };
    });
  },
};

/**
 * Replaces each call starting with `head` by `void 0`, matching its parentheses past string and
 * template literals (partysocket's messages are template literals with parentheses inside).
 */
export function removeCalls(source: string, head: string): { text: string; removed: number } {
  let text = "";
  let from = 0;
  let removed = 0;
  for (let at = source.indexOf(head); at >= 0; at = source.indexOf(head, from)) {
    let i = at + head.length;
    let depth = 1;
    let quote = "";
    while (depth > 0) {
      if (i >= source.length) throw new Error(`widget bundle: unbalanced \`${head}…\` call`);
      const c = source[i++];
      if (quote) {
        if (c === "\\") i++;
        else if (c === quote) quote = "";
      } else if (c === '"' || c === "'" || c === "`") quote = c;
      else if (c === "(") depth++;
      else if (c === ")") depth--;
    }
    text += `${source.slice(from, at)}void 0`;
    from = i;
    removed++;
  }
  return { text: text + source.slice(from), removed };
}
