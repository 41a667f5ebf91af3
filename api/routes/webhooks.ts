/** `/v1/webhooks`: an app's back end manages its endpoints with the server key. */
import { Hono } from "hono";
import { z } from "zod";
import { ParleyError, storeRefusal } from "../../party/core/errors.ts";
import { parseOrThrow } from "../../party/core/validation.ts";
import type { WebhookAdmin } from "../../party/host/webhooks/endpoints.ts";
import { WEBHOOK_EVENT_TYPES } from "../../protocol/index.ts";
import { type ApiContext, type ApiEnv, bodyOf, serverOf } from "../context.ts";

/** The body of `POST /v1/webhooks` (also rendered in the OpenAPI document). */
export const newEndpointSchema = z.strictObject({
  url: z.string().min(1),
  // A refinement, not `.max`: zod runs a length check on a value that is not an array too, and a
  // string got "expected array" and "Too big: expected string to have <=8 characters".
  events: z
    .array(z.enum(WEBHOOK_EVENT_TYPES))
    .refine((types) => types.length <= WEBHOOK_EVENT_TYPES.length, {
      message: `at most ${WEBHOOK_EVENT_TYPES.length} event types`,
    })
    .optional(),
});

/** `:id` of an endpoint. */
export const endpointIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "not an endpoint id");

/** The host's endpoints; a store that cannot answer is the client's 503 (retry), not a 500. */
function adminOf(c: ApiContext): WebhookAdmin {
  const { webhooks: admin, onError } = c.get("deps");
  if (!admin) throw new ParleyError("not_found", "this host has no webhooks");
  const refused = (context: string) => storeRefusal(onError, context);
  return {
    create: (app, input) => admin.create(app, input).catch(refused("creating a webhook endpoint failed")),
    list: (app) => admin.list(app).catch(refused("listing webhook endpoints failed")),
    remove: (app, id) => admin.remove(app, id).catch(refused("removing a webhook endpoint failed")),
    resume: (app, id) => admin.resume(app, id).catch(refused("resuming a webhook endpoint failed")),
  };
}

const endpointIdOf = (c: ApiContext) => parseOrThrow(endpointIdSchema, c.req.param("id"), "endpoint id");

export const webhookRoutes = new Hono<ApiEnv>()
  .post("/", async (c) => {
    const { app } = await serverOf(c);
    const input = await bodyOf(c, newEndpointSchema, "webhook endpoint");
    return c.json({ webhook: await adminOf(c).create(app, input) }, 201);
  })
  .get("/", async (c) => {
    const { app } = await serverOf(c);
    return c.json({ webhooks: await adminOf(c).list(app) });
  })
  .delete("/:id", async (c) => {
    const { app } = await serverOf(c);
    await adminOf(c).remove(app, endpointIdOf(c));
    return c.body(null, 204);
  })
  .post("/:id/resume", async (c) => {
    const { app } = await serverOf(c);
    return c.json({ webhook: await adminOf(c).resume(app, endpointIdOf(c)) });
  });
