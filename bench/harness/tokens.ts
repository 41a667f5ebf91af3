/**
 * User tokens for the bench: real HS256 JWTs (the relay verifies them; the floor ignores them,
 * so the client does the same work on both sides), minted once per user and kept.
 */
import { SignJWT } from "jose";

/** A minter for one app's secret: `userId` → its token, the same one on every call. */
export function tokenMinter(secret: string): (userId: string) => Promise<string> {
  const key = new TextEncoder().encode(secret);
  const tokens = new Map<string, Promise<string>>();
  return (userId) => {
    let token = tokens.get(userId);
    if (!token) {
      token = new SignJWT({ name: userId })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime("2h")
        .sign(key);
      tokens.set(userId, token);
    }
    return token;
  };
}
