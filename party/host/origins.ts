/** Which browser origins may call the API and open sockets. */
export interface OriginPolicy {
  /** Exact origins (scheme://host[:port]); empty means "none" in production. */
  allowed: readonly string[];
  /** Dev mode with no list: any localhost origin is allowed. */
  allowLocalhost: boolean;
}

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/**
 * Checks and normalises allowed origins (`PARLEY_ALLOWED_ORIGINS`, split at commas, or the
 * `allowedOrigins` option): each is `scheme://host[:port]` or `*`. They are rewritten the way
 * browsers send `Origin` (lower-case host, no default port, no trailing slash), so
 * `https://App.example.com:443/` matches `https://app.example.com`. Anything else throws,
 * naming the entry: an entry that can never match would refuse every browser silently.
 */
export function normaliseOrigins(entries: readonly string[]): string[] {
  const origins: string[] = [];
  for (const entry of entries.map((o) => o.trim())) {
    if (entry === "") continue;
    if (entry === "*") {
      origins.push(entry);
      continue;
    }
    const url = parseUrl(entry);
    const isOrigin =
      url !== null &&
      (url.protocol === "http:" || url.protocol === "https:") &&
      url.pathname === "/" &&
      !/[?#@]/.test(entry);
    if (!url || !isOrigin) {
      throw new Error(
        `PARLEY_ALLOWED_ORIGINS: "${entry}" is not an origin; write scheme://host[:port], e.g. https://app.example.com`,
      );
    }
    origins.push(url.origin);
  }
  return origins;
}

/**
 * True when a request may proceed: no Origin (not a browser), an allowed origin, or, outside
 * dev mode's localhost default, the server's own origin (a page the host application serves on
 * the same host and port, when Parley is mounted beside its routes; browsers send Origin on
 * same-origin POSTs and sockets).
 */
export function originAllowed(
  origin: string | null | undefined,
  policy: OriginPolicy,
  requestHost?: string | null,
): boolean {
  if (!origin) return true;
  if (policy.allowed.includes(origin) || policy.allowed.includes("*")) return true;
  if (policy.allowLocalhost) return LOCALHOST.test(origin);
  // Not in dev mode's localhost-only default: there a page of a rebound DNS name (evil.test
  // resolving to 127.0.0.1) would look same-host.
  return requestHost ? sameHost(origin, requestHost) : false;
}

function sameHost(origin: string, requestHost: string): boolean {
  const url = parseUrl(origin);
  return url !== null && url.host === requestHost.toLowerCase();
}
