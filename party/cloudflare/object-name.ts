/**
 * Every call into a Durable Object carries the object's name, because the object cannot always
 * read it. partyserver's `this.name` is `ctx.id.name`, else a name it kept in storage
 * (`__ps_name`), else it throws. Local workerd (`wrangler dev`) gives `ctx.id.name` only to an
 * instance made by a call on a stub from `idFromName`: after a restart, an alarm ring makes the
 * instance from the bare id kept in the alarm scheduler, and every later call reaches that same
 * nameless instance. When the ring runs the object's `alarm()`, partyserver reads its kept name
 * there; but a ring whose time no longer matches the object's own alarm (a process killed
 * between the two writes that move an alarm) makes the instance without running anything, and
 * an object that set its alarm before partyserver ever started it has no kept name. Either way
 * the conversation answered 500 to every call ("this.ctx.id.name is not set and no __ps_name
 * fallback") until the instance went away. With the name in each call, the object learns it
 * (`learnName`) whatever woke it.
 */

/**
 * The header that carries the name on a forwarded request (a socket, an event stream):
 * partyserver's own, which its `fetch` reads on a nameless instance. The Worker always sets it.
 */
export const OBJECT_NAME_HEADER = "x-partykit-room";

/**
 * Where a Durable Object keeps its own name when it sets an alarm, so that a nameless ring can
 * learn it (partyserver keeps one only once it has started the object, and a room's webhook
 * wake sets an alarm without starting it).
 */
export const OBJECT_NAME_KEY = "parley:name";

/** `request` with the name of the object it is forwarded to (any name the client sent is replaced). */
export function withObjectName(request: Request, name: string): Request {
  const headers = new Headers(request.headers);
  headers.set(OBJECT_NAME_HEADER, name);
  return new Request(request, { headers });
}

/**
 * Makes sure partyserver knows the name of the object whose id is `id`, given by the caller.
 * Nothing to do when the runtime gave the name with the id (always, on Cloudflare). On a
 * nameless instance, the name must be the one `id` was made from; then `setName` (the object's)
 * keeps it in memory and in storage, and starts the object (its `onStart`), as any first call would.
 */
export async function learnName(
  id: DurableObjectId,
  namespace: Pick<DurableObjectNamespace, "idFromName">,
  name: string,
  setName: (name: string) => Promise<void>,
): Promise<void> {
  if (id.name === name) return;
  if (id.name !== undefined || !namespace.idFromName(name).equals(id))
    throw new Error(`this Durable Object is not the one named "${name}"`);
  await setName(name);
}
