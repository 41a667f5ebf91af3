/**
 * An esbuild plugin for the widget bundle only: the stylesheet in `client/widget/styles.ts`
 * keeps one rule per line for reading, and the bundle takes those line breaks out (about 120
 * bytes of the widget's 30 KB gzipped budget). Only a break after `{`, `}`, `;` or the
 * template's opening backtick is taken, where CSS needs no space; if the stylesheet has any
 * other, the build fails here, so a break that separates two words is never joined.
 */
import { readFile } from "node:fs/promises";
import type { Plugin } from "esbuild";

const OPENING = "export const styles = `";

export const trimStylesheet: Plugin = {
  name: "parley-trim-stylesheet",
  setup(build) {
    build.onLoad({ filter: /[\\/]client[\\/]widget[\\/]styles\.ts$/ }, async (args) => ({
      contents: joinStylesheetLines(await readFile(args.path, "utf8")),
      loader: "ts",
    }));
  },
};

/** The source with the `styles` template's line breaks removed (throws where one is needed). */
export function joinStylesheetLines(source: string): string {
  const start = source.indexOf(OPENING);
  const end = start < 0 ? -1 : source.indexOf("`;", start + OPENING.length);
  if (end < 0) throw new Error(`widget bundle: no \`${OPENING}…\`;\` in client/widget/styles.ts`);
  const css = source.slice(start + OPENING.length - 1, end);
  const needed = /[^{};`]\n/.exec(css);
  if (needed) {
    throw new Error(
      `widget bundle: a line of the stylesheet ends in "${needed[0][0]}", where a break may separate two words; end it with {, } or ; (party/node/widget-css-trim.ts)`,
    );
  }
  return source.slice(0, start + OPENING.length - 1) + css.replaceAll("\n", "") + source.slice(end);
}
