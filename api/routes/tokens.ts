/** Minting user tokens: with the server key always, and without credentials in dev mode. */
import { Hono } from "hono";
import { z } from "zod";
import { ParleyError } from "../../party/core/errors.ts";
import { parseOrThrow, userIdSchema } from "../../party/core/validation.ts";
import { pictureSchema, profileNameSchema } from "../../party/host/profiles.ts";
import { type ApiEnv, bodyOf, serverOf } from "../context.ts";

const DEV_TOKEN_TTL_SECONDS = 24 * 60 * 60;

/** The body of `POST /v1/tokens` (also rendered in the OpenAPI document). */
export const mintTokenSchema = z.strictObject({
  userId: userIdSchema,
  /** The `name` claim: the user's profile name, with the profile's rules (refused here, not ignored later). */
  name: profileNameSchema.optional(),
  /** The `picture` claim: an https URL (http too on a dev relay), checked as the profile's is. */
  picture: z.string().max(2048).optional(),
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .optional(),
});

export const tokenRoutes = new Hono<ApiEnv>()
  .post("/tokens", async (c) => {
    const { app } = await serverOf(c);
    const input = await bodyOf(c, mintTokenSchema, "token request");
    // A claim the relay would ignore when the token is used is refused now, with the reason.
    if (input.picture !== undefined)
      parseOrThrow(pictureSchema(c.get("deps").devMode), input.picture, "picture");
    const token = await c.get("deps").auth.mintUserToken(app, input.userId, {
      ttlSeconds: input.ttlSeconds ?? 3600,
      name: input.name,
      picture: input.picture,
    });
    return c.json({ token }, 201);
  })
  .get("/dev/token", async (c) => {
    if (!c.get("deps").devMode) throw new ParleyError("not_found", "no such route");
    if (!localHost(c.req.header("host"))) {
      // A page on a DNS name rebound to this machine is "same-origin" to the browser and
      // could read a token here; a dev relay is reached by localhost or an IP address.
      throw new ParleyError(
        "forbidden",
        "the dev token endpoint answers only on localhost or an IP address (a guard against DNS rebinding)",
      );
    }
    const user = c.req.query("user");
    if (user === undefined) throw new ParleyError("bad_request", "say whose token: ?user=<user id>");
    const userId = parseOrThrow(userIdSchema, user, "user");
    const token = await c.get("deps").auth.mintUserToken("default", userId, {
      ttlSeconds: DEV_TOKEN_TTL_SECONDS,
      name: c.req.query("name"),
      picture: c.req.query("picture"),
    });
    return c.json({ token });
  });

/** localhost, *.localhost or an IP address (with or without a port): not a rebindable DNS name. */
function localHost(host: string | undefined): boolean {
  if (!host) return true; // HTTP/1.0 without Host: not a browser
  const name = host.replace(/:\d+$/, "").toLowerCase();
  return (
    name === "localhost" ||
    name.endsWith(".localhost") ||
    /^\d{1,3}(\.\d{1,3}){3}$/.test(name) ||
    /^\[[0-9a-f:.]+\]$/.test(name)
  );
}
