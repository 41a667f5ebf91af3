/**
 * Signing user tokens in your back end, exactly as the relay verifies them
 * (`party/host/auth.ts`): HS256 with the app's secret, `sub` = the user id, `exp` required,
 * optional `name` and `picture` (they update the user's profile), and `app` only for an app other than `default`.
 */
import { SignJWT } from "jose";
import { userIdSchema } from "../party/core/validation.ts";

export interface UserTokenOptions {
  /** The app's HS256 secret (`PARLEY_SECRET` for the default app), at least 32 bytes. */
  secret: string;
  /** The user id (`sub`): 1–128 characters of `A-Z a-z 0-9 _ . : @ | + -`. */
  userId: string;
  /** The app (tenant); the relay's default app when left out. */
  app?: string;
  /** A display name (`name` claim; it becomes the user's profile name when valid). */
  name?: string;
  /** A picture URL (`picture` claim; an https URL becomes the user's profile picture). */
  picture?: string;
  /** Lifetime: seconds, or a span jose reads (`"2h"`, `"30 min"`). The relay refuses a token without `exp`. */
  expiresIn: number | string;
}

const encoder = new TextEncoder();

/** Signs a user token for the SDK, the widget, sockets and the user routes. */
export async function signUserToken(options: UserTokenOptions): Promise<string> {
  const { secret, userId, app, name, picture, expiresIn } = options;
  const bytes = encoder.encode(secret);
  // The relay refuses shorter secrets at start: a token signed with one could never verify.
  if (bytes.byteLength < 32) throw new TypeError("the app secret must be at least 32 bytes");
  if (!userIdSchema.safeParse(userId).success)
    throw new TypeError("userId must be 1-128 characters of A-Z a-z 0-9 _ . : @ | + -");
  if (typeof expiresIn === "number" && !(Number.isFinite(expiresIn) && expiresIn > 0))
    throw new TypeError("expiresIn must be a positive number of seconds");
  const claims: Record<string, string> = {};
  if (app !== undefined && app !== "default") claims.app = app;
  if (name !== undefined) claims.name = name;
  if (picture !== undefined) claims.picture = picture;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(typeof expiresIn === "number" ? now + Math.ceil(expiresIn) : expiresIn)
    .sign(bytes);
}
