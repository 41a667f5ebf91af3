/**
 * User profiles: a display name and a picture per (app, user). The app's back end sets them
 * with the server key (`PUT /v1/users/:userId/profile`) or through the `name` / `picture`
 * claims of the user tokens it signs; answers that refer to users (history, the log, replies,
 * the thread list, a conversation's members) carry the profiles of those users once, in a
 * `users` map beside their rows, so no frame or message copies them.
 */
import { z } from "zod";
import { isParleyError, storeRefusal } from "../core/errors.ts";
import type { ProfilePatch, Store } from "../core/store.ts";
import type { Profile } from "../core/types.ts";
import type { UserPrincipal } from "./auth.ts";
import { ReadBatch } from "./read-batch.ts";

/** A display name: 1-64 characters, no control characters, not only spaces. */
export const profileNameSchema = z
  .string()
  .min(1, "name is 1-64 characters")
  .max(64, "name is 1-64 characters")
  // \p{Cs}: a lone surrogate, which a TEXT column would keep as U+FFFD.
  .regex(
    /^[^\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]*$/u,
    "name has no control or format characters, and is valid Unicode",
  )
  .refine((name) => name.trim().length > 0, "name is not only spaces");

/** The longest picture URL, in bytes (as most browsers and proxies take). */
const MAX_PICTURE_BYTES = 2048;
const encoder = new TextEncoder();

/**
 * A picture URL: absolute https (http too when `allowHttp`, e.g. a dev relay), at most 2048
 * bytes, without credentials. Kept exactly as sent.
 */
export function pictureSchema(allowHttp: boolean) {
  const schemes = allowHttp ? ["https:", "http:"] : ["https:"];
  return z
    .string()
    .refine((url) => encoder.encode(url).byteLength <= MAX_PICTURE_BYTES, "picture is at most 2048 bytes")
    .refine(
      (url) => {
        let parsed: URL;
        try {
          parsed = new URL(url);
        } catch {
          return false;
        }
        return schemes.includes(parsed.protocol) && !parsed.username && !parsed.password;
      },
      `picture must be an ${allowHttp ? "http(s)" : "https"} URL without credentials`,
    );
}

/** The body of `PUT /v1/users/:userId/profile`: a field left out is kept, null clears it. */
export function profilePatchSchema(allowHttp: boolean) {
  return (
    z
      .strictObject({
        name: profileNameSchema.nullable().optional(),
        picture: pictureSchema(allowHttp).nullable().optional(),
      })
      .refine((p) => p.name !== undefined || p.picture !== undefined, "set name, picture or both")
      // minProperties: the refine above, said in the OpenAPI document too ({} is refused).
      .meta({ id: "ProfileUpdate", minProperties: 1 })
  );
}

/** At most this many users' profiles are read for one answer (the rest show their ids). */
export const MAX_USERS_PER_ANSWER = 500;
/**
 * How long a token's first check waits for others' before its stored profile is read (once per
 * token and process; after a restart, a burst of tokens then shares one query).
 */
const CLAIM_READ_WAIT_MS = 5;
/** Profiles remembered from token claims, per app and process (the oldest is dropped past this). */
const KNOWN_LIMIT = 10_000;

/**
 * A profile as this process remembers it: the name alone (or null) when there is no picture,
 * the profile otherwise. One is kept per connected user, and an object per user was ~40 B of
 * live heap per idle socket (issue 17).
 */
type Known = string | null | Profile;
const compact = (profile: Profile): Known => (profile.picture === null ? profile.name : profile);
const nameOf = (known: Known) => (known === null || typeof known === "string" ? known : known.name);
const pictureOf = (known: Known) => (known === null || typeof known === "string" ? null : known.picture);
const sameAs = (known: Known, patch: ProfilePatch) =>
  (patch.name === undefined || patch.name === nameOf(known)) &&
  (patch.picture === undefined || patch.picture === pictureOf(known));

export interface ProfilesOptions {
  /**
   * Node: a burst of first-seen tokens shares one profile read (read-batch.ts). Not on
   * workerd: a batch opened by one request and read by its timer would do the I/O of every
   * other request that joined it, which workerd never settles for them (they hang).
   */
  batchClaimReads?: boolean;
  /** Picture URLs may be http: (dev relays), not only https:. */
  allowHttp: boolean;
  onError: (error: unknown, context: string) => void;
  now?: () => number;
}

export class Profiles {
  /**
   * What this process last read or wrote of each user's profile (token claims are checked
   * against it), by app, then by the user's id itself: the string its connections hold anyway.
   */
  #known = new Map<string, Map<string, Known>>();
  readonly #claims: { name: z.ZodType<string>; picture: z.ZodType<string> };
  /** Stored profiles read for token claims, per app: the users of a burst in one query. */
  #claimReads = new Map<string, ReadBatch<Profile>>();

  constructor(
    private readonly store: () => Store,
    private readonly options: ProfilesOptions,
  ) {
    this.#claims = { name: profileNameSchema, picture: pictureSchema(options.allowHttp) };
  }

  /** Stored profiles; a store that cannot answer is the client's 503 (retry), not a 500. */
  #read(app: string, userIds: string[]): Promise<Map<string, Profile>> {
    return this.store()
      .readProfiles(app, userIds)
      .catch(storeRefusal(this.options.onError, "reading profiles failed"));
  }

  /** The body schema of a profile update on this relay. */
  get patchSchema() {
    return profilePatchSchema(this.options.allowHttp);
  }

  /** A user's profile (both fields null when they have none). */
  async get(app: string, userId: string): Promise<Profile> {
    const found = await this.#read(app, [userId]);
    return found.get(userId) ?? { name: null, picture: null };
  }

  /** Sets a user's profile fields (server key); returns the profile as stored now. */
  async set(app: string, userId: string, patch: ProfilePatch): Promise<Profile> {
    const stored = await this.store()
      .writeProfile(app, userId, patch, this.#nowIso())
      .catch(storeRefusal(this.options.onError, "writing a profile failed"));
    this.#remember(app, userId, stored);
    return stored;
  }

  /**
   * The `users` map of an answer: the profiles of these users that have one (at most
   * MAX_USERS_PER_ANSWER users, the first named first). Undefined when none has one, so an
   * answer without profiles stays exactly as v1 sent it.
   */
  async users(
    app: string,
    userIds: Iterable<string | null | undefined>,
  ): Promise<Record<string, Profile> | undefined> {
    const ids = new Set<string>();
    for (const id of userIds) {
      if (ids.size >= MAX_USERS_PER_ANSWER) break;
      if (id) ids.add(id);
    }
    if (ids.size === 0) return undefined;
    const found = await this.#read(app, [...ids]);
    if (found.size === 0) return undefined;
    const users: Record<string, Profile> = {};
    for (const [id, profile] of found)
      if (profile.name !== null || profile.picture !== null) users[id] = profile;
    return Object.keys(users).length ? users : undefined;
  }

  /**
   * A user token was admitted (verified for the first time in this process): its `name` and
   * `picture` claims, when valid, become the user's profile. A claim left out keeps the stored
   * field. Written only when it differs from what is stored: a token is verified once per
   * process (auth.ts caches it), and the profile is read at most once per user before that.
   * Never fails the request: a store error is reported and the next token tries again.
   */
  async fromToken(user: UserPrincipal): Promise<void> {
    const patch: ProfilePatch = {};
    if (user.name !== undefined && this.#claims.name.safeParse(user.name).success) patch.name = user.name;
    if (user.picture !== undefined && this.#claims.picture.safeParse(user.picture).success)
      patch.picture = user.picture;
    if (patch.name === undefined && patch.picture === undefined) return;
    const known = this.#known.get(user.app)?.get(user.userId);
    if (known !== undefined && sameAs(known, patch)) return;
    try {
      await this.#applyClaims(user.app, user.userId, patch);
    } catch (error) {
      // A store that could not answer was logged where it failed.
      if (!isParleyError(error))
        this.options.onError(error, `profile of ${user.app}/${user.userId} from its token`);
    }
  }

  async #applyClaims(app: string, userId: string, patch: ProfilePatch): Promise<void> {
    const stored = this.options.batchClaimReads
      ? ((await this.#claimReadsOf(app).get(userId)) ?? { name: null, picture: null })
      : await this.get(app, userId);
    this.#remember(app, userId, stored);
    if (sameAs(compact(stored), patch)) return;
    await this.set(app, userId, patch);
  }

  #claimReadsOf(app: string): ReadBatch<Profile> {
    let batch = this.#claimReads.get(app);
    if (!batch) {
      batch = new ReadBatch(
        (userIds) => this.store().readProfiles(app, userIds),
        MAX_USERS_PER_ANSWER,
        CLAIM_READ_WAIT_MS,
      );
      this.#claimReads.set(app, batch);
    }
    return batch;
  }

  #remember(app: string, userId: string, profile: Profile): void {
    let known = this.#known.get(app);
    if (!known) {
      known = new Map();
      this.#known.set(app, known);
    }
    known.delete(userId);
    if (known.size >= KNOWN_LIMIT) {
      const oldest = known.keys().next();
      if (!oldest.done) known.delete(oldest.value);
    }
    known.set(userId, compact(profile));
  }

  #nowIso(): string {
    return new Date((this.options.now ?? Date.now)()).toISOString();
  }
}
