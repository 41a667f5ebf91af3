/**
 * The Authenticator's cache of verified tokens: a token that comes again (every HTTP request of
 * a session) is verified once, but a socket's token, which comes once, is not kept (issue 17:
 * memory per idle socket). Counted by what the Authenticator tells its `onUser` listener, which
 * hears every verification that is not a cache hit.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Authenticator } from "../../party/host/auth.ts";
import type { HmacSha256 } from "../../party/host/plain-hs256.ts";

const hmac: HmacSha256 = (key, data) => createHmac("sha256", key).update(data).digest();
const apps = [{ id: "default", secret: "s".repeat(32), serverKey: "sk_test_cache" }];

function counting() {
  const heard: string[] = [];
  const auth = new Authenticator(apps, undefined, (user) => void heard.push(user.userId), hmac);
  return { auth, heard };
}

describe("the token cache", () => {
  it("keeps a verified token for the requests that bring it again", async () => {
    const { auth, heard } = counting();
    const token = await auth.mintUserToken("default", "ada", { ttlSeconds: 600 });
    for (let i = 0; i < 3; i++) expect((await auth.verifyUserToken(token)).userId).toBe("ada");
    expect((await auth.authenticate(`Bearer ${token}`)).kind).toBe("user");
    expect(heard).toEqual(["ada"]);
  });

  it("does not keep a socket's token (remember: false), yet uses one kept by a request", async () => {
    const { auth, heard } = counting();
    const token = await auth.mintUserToken("default", "bob", { ttlSeconds: 600 });
    for (let i = 0; i < 3; i++)
      expect((await auth.verifyUserToken(token, { remember: false })).userId).toBe("bob");
    expect(heard).toEqual(["bob", "bob", "bob"]);
    // A request keeps it; a socket after that is a cache hit.
    await auth.verifyUserToken(token);
    await auth.verifyUserToken(token, { remember: false });
    expect(heard).toHaveLength(4);
  });

  it("refuses a forged token either way", async () => {
    const { auth } = counting();
    const token = await auth.mintUserToken("default", "eve", { ttlSeconds: 600 });
    const forged = `${token.slice(0, -4)}AAAA`;
    await expect(auth.verifyUserToken(forged, { remember: false })).rejects.toThrow(/signature/);
    await expect(auth.verifyUserToken(forged)).rejects.toThrow(/signature/);
  });
});
