/**
 * Credentials: user tokens (HS256 JWTs signed by the app's back end, verified with jose and a
 * pinned algorithm) and server keys. The app of a request comes only from here.
 */
import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { ParleyError } from "../core/errors.ts";
import { userIdSchema } from "../core/validation.ts";
import { type HmacSha256, plainHs256 } from "./plain-hs256.ts";

/** One tenant's credentials. */
export interface AppCredentials {
  /** The app id; `default` for the one configured by PARLEY_SECRET / PARLEY_SERVER_KEY. */
  id: string;
  /** HS256 secret for user tokens, at least 32 bytes. */
  secret: string;
  /** Server-to-server API key. */
  serverKey: string;
}

export interface UserPrincipal {
  kind: "user";
  app: string;
  userId: string;
  /** The token's `name` claim (a display name), when it is a string. */
  name?: string | undefined;
  /** The token's `picture` claim (a picture URL), when it is a string. */
  picture?: string | undefined;
}
export interface ServerPrincipal {
  kind: "server";
  app: string;
}
export type Principal = UserPrincipal | ServerPrincipal;

const encoder = new TextEncoder();

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const refuse = (message: string) => new ParleyError("unauthorized", message);

const BAD_SIGNATURE = "the token's signature is invalid";

/** A fixed sentence per claim jose checks (its own messages are not part of our contract). */
function claimRefusal(claim: string): string {
  if (claim === "exp") return "the token has no valid exp claim";
  if (claim === "sub") return "the token has no sub claim";
  if (claim === "nbf") return "the token is not valid yet (nbf)";
  if (claim === "iat") return "the token's iat claim is invalid";
  return "the token's claims are invalid";
}

/** Verified credentials kept for reuse; the oldest is dropped past this many. */
const CACHE_LIMIT = 10_000;

/**
 * A string of its own with the same characters. A token read from a socket's URL is a slice of
 * that URL (the engine shares the characters), so a cached token kept the whole upgrade URL
 * alive, ~0.25 KiB per cached token (issue 17: memory per idle socket). A JSON round trip makes
 * a fresh string on every runtime; it costs about a microsecond, once per token verified.
 */
function ownCopy(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

/**
 * The HS256 key of a secret, imported once. Given raw bytes, jose imports a CryptoKey on every
 * verify: after a restart every socket's first token pays that import (in a reconnect storm of
 * 10,000 sockets, 10,000 imports of the same few keys). A non-extractable verify-only key.
 */
function importHs256(secret: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}

export class Authenticator {
  #secrets = new Map<string, Uint8Array<ArrayBuffer>>();
  /** Each app's verify key, imported on first use (see importHs256). */
  #verifyKeys = new Map<string, CryptoKey>();
  /**
   * Credentials that verified, until they expire: the same token on every request of a
   * session is verified once, not per request (HMAC and key import dominate a small send).
   */
  #verified = new Map<string, { principal: Principal; expiresAt: number }>();
  /** Server keys by SHA-256, so lookups do not compare secrets byte by byte. */
  #serverKeys: Promise<Map<string, string>>;

  constructor(
    apps: readonly AppCredentials[],
    /** Clock leeway for exp/nbf, at most 60 s. */
    private readonly leewaySeconds = 60,
    /**
     * Hears each user token that verifies, except on cache hits (a socket's token is not cached,
     * so every socket's is heard): where its `name` / `picture` claims become the user's profile
     * (profiles.ts, which writes only what changed). Awaited, so
     * that the write is part of the request (a Worker may drop work left after its answer);
     * it must not throw.
     */
    private readonly onUser?: (user: UserPrincipal) => Promise<void> | void,
    /**
     * The runtime's synchronous HMAC-SHA256, where it has one (Node): plain valid tokens are
     * then checked without a trip through `crypto.subtle` (see plain-hs256.ts); anything else
     * still goes to jose.
     */
    private readonly hmacSha256?: HmacSha256,
  ) {
    // Copied into a plain ArrayBuffer: what crypto.subtle.importKey takes.
    for (const app of apps) this.#secrets.set(app.id, new Uint8Array(encoder.encode(app.secret)));
    this.#serverKeys = Promise.all(apps.map(async (a) => [await sha256Hex(a.serverKey), a.id] as const)).then(
      (pairs) => new Map(pairs),
    );
  }

  /**
   * Verifies a user token; 401 on anything wrong with it, including an unknown app. A token that
   * verifies is kept for the requests that bring it again, unless `remember` is false: a socket
   * brings its token once, and keeping every connected user's token (~0.3 KiB with its entry)
   * would be memory per idle socket (issue 17) for a check that costs microseconds.
   */
  async verifyUserToken(token: string, options: { remember?: boolean } = {}): Promise<UserPrincipal> {
    const cached = this.#cached(token);
    if (cached?.kind === "user") return cached;
    const principal = await this.#verifyUserToken(token, options.remember ?? true);
    await this.onUser?.(principal);
    return principal;
  }

  #cached(credential: string): Principal | undefined {
    const hit = this.#verified.get(credential);
    if (!hit) return undefined;
    if (hit.expiresAt > Date.now()) return hit.principal;
    this.#verified.delete(credential);
    return undefined;
  }

  #remember(credential: string, principal: Principal, expiresAt: number): void {
    if (this.#verified.size >= CACHE_LIMIT) {
      const oldest = this.#verified.keys().next();
      if (!oldest.done) this.#verified.delete(oldest.value);
    }
    this.#verified.set(ownCopy(credential), { principal, expiresAt });
  }

  async #verifyUserToken(token: string, remember: boolean): Promise<UserPrincipal> {
    // A plain valid token (nearly all of them) is decoded once and never reaches jose.
    const plain = this.#plainToken(token);
    if (plain) return this.#principal(token, plain.app, plain.claims, remember);
    let claimedApp: unknown;
    try {
      claimedApp = decodeJwt(token).app ?? "default";
    } catch {
      throw refuse("the token is not a valid JWT");
    }
    if (typeof claimedApp !== "string") throw refuse("the token's app claim must be a string");
    const secret = this.#secrets.get(claimedApp);
    // An unknown app gets the same answer as a forged signature: two different answers would
    // let anyone probe which tenant ids exist (and the app name is the caller's, not ours to echo).
    if (!secret) throw refuse(BAD_SIGNATURE);
    try {
      const { payload } = await jwtVerify(token, await this.#verifyKey(claimedApp, secret), {
        algorithms: ["HS256"],
        requiredClaims: ["exp", "sub"],
        clockTolerance: this.leewaySeconds,
      });
      return this.#principal(token, claimedApp, payload, remember);
    } catch (error) {
      if (error instanceof ParleyError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw refuse("the token has expired");
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw refuse(claimRefusal(error.claim));
      if (error instanceof joseErrors.JOSEAlgNotAllowed) throw refuse("the token must be signed with HS256");
      throw refuse(BAD_SIGNATURE);
    }
  }

  /**
   * A plain valid token's app and claims, checked synchronously (plain-hs256.ts); undefined:
   * ask jose, which decides and words any refusal.
   */
  #plainToken(token: string): { app: string; claims: Record<string, unknown> } | undefined {
    if (!this.hmacSha256) return undefined;
    let app: string | undefined;
    const claims = plainHs256(
      token,
      (payload) => {
        const claimed = payload.app ?? "default";
        if (typeof claimed !== "string") return undefined;
        app = claimed;
        return this.#secrets.get(claimed);
      },
      this.hmacSha256,
      Math.floor(Date.now() / 1000),
      this.leewaySeconds,
    );
    return claims && app !== undefined ? { app, claims } : undefined;
  }

  /** The principal of verified claims (a refusal when `sub` is not a user id); cached until exp. */
  #principal(token: string, app: string, payload: Record<string, unknown>, remember: boolean): UserPrincipal {
    const userId = userIdSchema.safeParse(payload.sub);
    if (!userId.success) throw refuse("the token's sub is not a valid user id");
    const name = typeof payload.name === "string" ? payload.name : undefined;
    const principal: UserPrincipal = { kind: "user", app, userId: userId.data, name };
    if (typeof payload.picture === "string") principal.picture = payload.picture;
    // Cached only until exp (no leeway) and never before nbf has passed (checked by now).
    if (remember && typeof payload.exp === "number") this.#remember(token, principal, payload.exp * 1000);
    return principal;
  }

  /**
   * Keeps the imported key, never the import in flight: on workerd one request must not await
   * a promise another request started (it never settles for it), so tokens that arrive while
   * the first import runs import their own.
   */
  async #verifyKey(app: string, secret: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
    const known = this.#verifyKeys.get(app);
    if (known) return known;
    const key = await importHs256(secret);
    this.#verifyKeys.set(app, key);
    return key;
  }

  /** Resolves an `Authorization: Bearer …` header to a principal; 401 when missing or bad. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!match?.[1]) throw refuse("missing credential: send Authorization: Bearer <token or server key>");
    const credential = match[1];
    const cached = this.#cached(credential);
    if (cached) return cached;
    if (credential.split(".").length !== 3) {
      const app = (await this.#serverKeys).get(await sha256Hex(credential));
      // Not three dot-separated parts: a server key, or a user token that is not a JWT at all.
      if (!app)
        throw refuse(
          "not a known server key, nor a user token (a user token is a JWT: three dot-separated parts)",
        );
      const principal: ServerPrincipal = { kind: "server", app };
      this.#remember(credential, principal, Number.POSITIVE_INFINITY);
      return principal;
    }
    return this.verifyUserToken(credential);
  }

  /** Signs a user token for `app` (dev tokens and server-key minting). */
  async mintUserToken(
    app: string,
    userId: string,
    options: { name?: string | undefined; picture?: string | undefined; ttlSeconds: number },
  ): Promise<string> {
    const secret = this.#secrets.get(app);
    if (!secret) throw new ParleyError("not_found", `unknown app "${app}"`);
    const claims: Record<string, string> = app === "default" ? {} : { app };
    if (options.name) claims.name = options.name;
    if (options.picture) claims.picture = options.picture;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds)
      .sign(secret);
  }
}
