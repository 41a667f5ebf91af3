/** Where user tokens come from: a fixed string, or a function the SDK calls again when one expires. */
export type TokenProvider = string | (() => string | Promise<string>);

/**
 * Caches the current token and refreshes it on demand. Concurrent refreshes share one call to
 * the provider, and a refresh asked for a token that was already replaced returns the new one,
 * so ten sockets closing with 4001 at once cost one refresh.
 */
export class TokenSource {
  #provider: TokenProvider;
  #current: string | undefined;
  #pending: Promise<string> | undefined;

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
    if (this.#current !== undefined) return Promise.resolve(this.#current);
    return this.#fetch();
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
        return token;
      } finally {
        this.#pending = undefined;
      }
    })();
    return this.#pending;
  }
}

/**
 * The `sub` claim of a JWT, read without verifying it (the server verifies; the SDK only needs
 * the user id to open the inbox and to scope the outbox).
 */
export function subjectOf(token: string): string | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const json = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as { sub?: unknown };
    return typeof claims.sub === "string" ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
