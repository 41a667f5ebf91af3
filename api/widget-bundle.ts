/**
 * The widget's bundle as `/widget.js` serves it: the host's script, gzipped once and
 * fingerprinted (ETag). Web-standard only (CompressionStream, WebCrypto).
 */

/** Loads the widget's minified script (an esbuild bundle, or a prebuilt file). */
export type WidgetScript = () => Promise<Uint8Array | string>;

export interface WidgetBundle {
  /** The minified script. */
  code: Uint8Array<ArrayBuffer>;
  /** The same, gzipped. */
  gzip: Uint8Array<ArrayBuffer>;
  /** A strong validator of `code`. */
  etag: string;
}

/**
 * The bundle of a host's script, made on first use and kept; a failure is tried again on the
 * next request (the host's esbuild may have been busy or missing).
 */
export function cachedWidgetBundle(load: WidgetScript): () => Promise<WidgetBundle> {
  let cached: Promise<WidgetBundle> | undefined;
  return () => {
    cached ??= prepare(load).catch((error: unknown) => {
      cached = undefined;
      throw error;
    });
    return cached;
  };
}

async function prepare(load: WidgetScript): Promise<WidgetBundle> {
  const script = await load();
  const code = new Uint8Array(typeof script === "string" ? new TextEncoder().encode(script) : script);
  const gzip = new Uint8Array(
    await new Response(new Blob([code]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", code));
  const etag = `"${[...digest.slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("")}"`;
  return { code, gzip, etag };
}
