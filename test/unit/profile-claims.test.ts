/**
 * Profiles from token claims (party/host/profiles.ts) over a real libSQL file: what the process
 * remembers of each user is kept compactly (the name alone when there is no picture, issue 17:
 * memory per idle socket), and a claim is written exactly when it differs from what is stored,
 * whichever of those forms the remembered profile has. Writes are counted on the real store.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UserPrincipal } from "../../party/host/auth.ts";
import { Profiles } from "../../party/host/profiles.ts";
import type { LibsqlStore } from "../../store/libsql-store.ts";
import { openStore } from "../../store/open.ts";

const PIC = "https://example.com/a.png";
const PIC2 = "https://example.com/b.png";

let dir: string;
let store: LibsqlStore;
let writes: number;
let profiles: Profiles;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-profile-claims-"));
  store = await openStore({ url: `file:${join(dir, "p.db")}`, sync: "normal", busyTimeoutMs: 100 });
  writes = 0;
  const write = store.writeProfile.bind(store);
  store.writeProfile = (...args) => {
    writes++;
    return write(...args);
  };
  profiles = new Profiles(() => store, {
    batchClaimReads: true,
    allowHttp: false,
    onError: (error) => {
      throw error;
    },
  });
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const token = (
  userId: string,
  claims: { name?: string; picture?: string },
  app = "default",
): UserPrincipal => ({
  kind: "user",
  app,
  userId,
  ...claims,
});

describe("profiles from token claims", () => {
  it("writes a claim once, then only when it changes: name alone, a picture added, a name changed", async () => {
    await profiles.fromToken(token("ada", { name: "Ada" }));
    await profiles.fromToken(token("ada", { name: "Ada" }));
    expect(writes).toBe(1);
    expect(await profiles.get("default", "ada")).toEqual({ name: "Ada", picture: null });

    await profiles.fromToken(token("ada", { name: "Ada", picture: PIC }));
    await profiles.fromToken(token("ada", { picture: PIC }));
    expect(writes).toBe(2);
    expect(await profiles.get("default", "ada")).toEqual({ name: "Ada", picture: PIC });

    // A name change keeps the picture (a claim left out keeps the stored field).
    await profiles.fromToken(token("ada", { name: "Ada L." }));
    await profiles.fromToken(token("ada", { name: "Ada L.", picture: PIC }));
    expect(writes).toBe(3);
    expect(await profiles.get("default", "ada")).toEqual({ name: "Ada L.", picture: PIC });

    await profiles.fromToken(token("ada", { picture: PIC2 }));
    expect(writes).toBe(4);
    expect(await profiles.get("default", "ada")).toEqual({ name: "Ada L.", picture: PIC2 });
  });

  it("a picture without a name, and a profile set with the server key, are remembered as they are", async () => {
    await profiles.fromToken(token("bo", { picture: PIC }));
    await profiles.fromToken(token("bo", { picture: PIC }));
    expect(writes).toBe(1);
    expect(await profiles.get("default", "bo")).toEqual({ name: null, picture: PIC });

    await profiles.set("default", "bo", { name: "Bo", picture: null });
    expect(writes).toBe(2);
    await profiles.fromToken(token("bo", { name: "Bo" }));
    expect(writes).toBe(2);
    await profiles.fromToken(token("bo", { picture: PIC }));
    expect(writes).toBe(3);
    expect(await profiles.get("default", "bo")).toEqual({ name: "Bo", picture: PIC });
  });

  it("keeps each app's users apart", async () => {
    await profiles.fromToken(token("cy", { name: "Cy" }, "default"));
    await profiles.fromToken(token("cy", { name: "Cy" }, "acme"));
    expect(writes).toBe(2);
    expect(await profiles.get("acme", "cy")).toEqual({ name: "Cy", picture: null });
    await profiles.fromToken(token("cy", { name: "Cy" }, "acme"));
    expect(writes).toBe(2);
  });
});
