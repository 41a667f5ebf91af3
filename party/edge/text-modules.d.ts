/**
 * Text modules: the edge bundlers (wrangler's default `Text` rule, esbuild under PartyKit) turn
 * an imported `.txt` file into its contents as a string. The widget script arrives this way
 * (`dist/edge/widget.js.txt`, written by `npm run build:widget`).
 */
declare module "*.txt" {
  const text: string;
  export default text;
}
