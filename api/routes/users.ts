/**
 * `/v1/users/:userId/profile`: a user's display name and picture (party/host/profiles.ts). The
 * app's back end sets them with the server key; a user reads their own, and sees other
 * people's in the answers that name them (the `users` maps).
 */
import { Hono } from "hono";
import { ParleyError } from "../../party/core/errors.ts";
import { parseOrThrow, userIdSchema } from "../../party/core/validation.ts";
import { type ApiEnv, bodyOf, principalOf, serverOf } from "../context.ts";

export const userRoutes = new Hono<ApiEnv>()
  .put("/:userId/profile", async (c) => {
    const { app } = await serverOf(c);
    const userId = parseOrThrow(userIdSchema, c.req.param("userId"), "user id");
    const profiles = c.get("deps").profiles;
    const patch = await bodyOf(c, profiles.patchSchema, "profile");
    return c.json({ profile: await profiles.set(app, userId, patch) });
  })
  .get("/:userId/profile", async (c) => {
    const principal = await principalOf(c);
    const userId = parseOrThrow(userIdSchema, c.req.param("userId"), "user id");
    if (principal.kind === "user" && principal.userId !== userId)
      throw new ParleyError("forbidden", "a user token may read only its own profile here");
    return c.json({ profile: await c.get("deps").profiles.get(principal.app, userId) });
  });
