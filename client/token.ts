/** Where user tokens come from: a fixed string, or a function the SDK calls again when one expires. */
export type TokenProvider = string | (() => string | Promise<string>);

/**
 * Caches the current token and refreshes it on demand. Concurrent refreshes share one call to
 * the provider, and a refresh asked for a token that was already replaced returns the new one,
 * so ten sockets closing with 4001 at once cost one refresh.
 *
 * A token from a function is also replaced shortly before it expires, so that a request made
 * then does not meet a 401 first (a browser logs each one). When is judged by the token's own
 * lifetime (`exp - iat`) counted from when it arrived, not by its `exp` against this device's
 * clock, which may be off by more than a token lives.
 */
export class TokenSource {
  #provider: TokenProvider;
  #current: string | undefined;
  #pending: Promise<string> | undefined;
  /** When (`Date.now()`) the current token is due for replacement; undefined: not known. */
  #renewAt: number | undefined;

  constructor(provider: TokenProvider) {
    this.#provider = provider;
    if (typeof provider === "string") this.#current = provider;
  }

  /** Whether a refused token can be replaced by asking again. */
  get refreshable(): boolean {
    return typeof this.#provider === "function";
  }

  /** The token to use now (fetched on first use). */
  get(): Promise<string> {
    const current = this.#current;
    if (current === undefined) return this.#fetch();
    if (this.#renewAt !== undefined && Date.now() >= this.#renewAt) {
      // Once per token; while its successor is on its way (or if it cannot be had), the
      // current one is used: the relay decides whether it still holds.
      this.#renewAt = undefined;
      return this.#fetch().catch(() => current);
    }
    return Promise.resolve(current);
  }

  /** A new token, because `stale` was refused. */
  refresh(stale: string | undefined): Promise<string> {
    if (this.#current !== undefined && this.#current !== stale) return Promise.resolve(this.#current);
    if (!this.refreshable) return this.get();
    this.#current = undefined;
    return this.#fetch();
  }

  #fetch(): Promise<string> {
    const provider = this.#provider;
    if (typeof provider === "string") return Promise.resolve(provider);
    this.#pending ??= (async () => {
      try {
        const token = await provider();
        if (typeof token !== "string" || token.length === 0) {
          throw new TypeError("parley: the token function must resolve to a non-empty string");
        }
        this.#current = token;
        this.#renewAt = renewAt(token, Date.now());
        return token;
      } finally {
        this.#pending = undefined;
      }
    })();
    return this.#pending;
  }
}

/** The most of a token's lifetime kept in hand when it is replaced early. */
const RENEW_AHEAD_MAX_MS = 60_000;

/**
 * When a token that arrived at `now` is due for replacement: a tenth of its lifetime before it
 * ends (at most a minute). Undefined without numeric `iat` and `exp`.
 */
function renewAt(token: string, now: number): number | undefined {
  const { iat, exp } = claimsOf(token);
  if (typeof iat !== "number" || typeof exp !== "number" || !(exp > iat)) return undefined;
  const lifetimeMs = (exp - iat) * 1000;
  return now + lifetimeMs - Math.min(RENEW_AHEAD_MAX_MS, lifetimeMs / 10);
}

/** A JWT's claims, read without verifying them (the server verifies); {} when unreadable. */
function claimsOf(token: string): Record<string, unknown> {
  const part = token.split(".")[1];
  if (!part) return {};
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const json = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return claims !== null && typeof claims === "object" ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The `sub` claim of a JWT, read without verifying it (the server verifies; the SDK only needs
 * the user id to open the inbox and to scope the outbox).
 */
export function subjectOf(token: string): string | undefined {
  const sub = claimsOf(token).sub;
  return typeof sub === "string" ? sub : undefined;
}
