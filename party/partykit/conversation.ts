/**
 * One conversation as a PartyKit party, hosting the runtime-free room through the shared
 * RoomActor (the same code as the Durable Object on Cloudflare). Hibernation is on; the party's
 * alarm drives the conversation's webhook deliveries.
 */
import type * as Party from "partykit/server";
import { edgeConfig } from "../edge/config.ts";
import { edgeLog } from "../edge/log.ts";
import { RoomActor } from "../edge/room-actor.ts";
import { answerClose, beforeConnect, internalOnly, isInternal, partykitActors } from "./actors.ts";

/**
 * Where the party keeps its own name: PartyKit gives an alarm no `room.id`, and the alarm must
 * know which conversation it delivers for. Written before the first alarm is set.
 */
const NAME_KEY = "parley:name";
/**
 * PartyKit hides `room.id` and `room.context.parties` from every handler while `onAlarm` runs,
 * and a delivery may take seconds, so the alarm only starts it: the delivery runs after the
 * handler returned, under an alarm this far ahead that starts it again if the party is
 * evicted meanwhile (the cursors are durable, so nothing is lost or skipped).
 */
const DELIVERY_GUARD_MS = 60_000;

export default class ConversationParty implements Party.Server {
  readonly options: Party.ServerOptions = { hibernate: true };
  #actor: RoomActor | undefined;

  constructor(readonly room: Party.Room) {}

  /** The actor, made on first use: an alarm's party has no `room.id` to read in a constructor. */
  #actorNamed(name: string): RoomActor {
    const { room } = this;
    this.#actor ??= new RoomActor(name, () => edgeConfig(room.env), {
      // Which members' inboxes listen is kept in the party's own storage (see actor-storage.ts).
      storage: room.storage,
      deliverToInbox: (app, userId, conversationId, frameText) =>
        partykitActors(room.context.parties, room.env).deliverToInbox(app, userId, conversationId, frameText),
      async setAlarm(at) {
        if ((await room.storage.get<string>(NAME_KEY)) !== name) await room.storage.put(NAME_KEY, name);
        const current = await room.storage.getAlarm();
        if (current === null || current > at) await room.storage.setAlarm(at);
      },
    });
    return this.#actor;
  }

  /** The actor (its name read once: `room.id` throws while an alarm runs). */
  get #room(): RoomActor {
    return this.#actor ?? this.#actorNamed(this.room.id);
  }

  /** Webhook delivery for the conversation whose name the party kept (see DELIVERY_GUARD_MS). */
  async onAlarm() {
    const name = await this.room.storage.get<string>(NAME_KEY);
    if (!name) return;
    const { storage } = this.room;
    const guard = Date.now() + DELIVERY_GUARD_MS;
    await storage.setAlarm(guard);
    void this.#actorNamed(name)
      .alarm()
      .then(async (next) => {
        const current = await storage.getAlarm();
        // Still the guard: nothing rang it sooner meanwhile, so it is ours to move or clear.
        if (current === guard) await (next === undefined ? storage.deleteAlarm() : storage.setAlarm(next));
        else if (next !== undefined && (current === null || current > next)) await storage.setAlarm(next);
      })
      .catch((error: unknown) => edgeLog.error({ err: error }, "webhook alarm failed"));
  }

  onStart() {
    return this.#room.start(this.room.getConnections());
  }

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    return this.#room.connect(conn, ctx.request as unknown as Request, (identity) => conn.setState(identity));
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection) {
    return this.#room.message(sender, message);
  }

  onClose(conn: Party.Connection) {
    this.#room.forget(conn);
    answerClose(conn);
  }

  onError(conn: Party.Connection) {
    this.#room.forget(conn);
  }

  /** Internal only: RPC from the API and from inboxes (`x-parley-rpc`), and SSE subscribers. */
  async onRequest(req: Party.Request) {
    const request = req as unknown as Request;
    if (!isInternal(request, this.room.env)) return new Response("Not Found", { status: 404 });
    if (request.headers.get("x-parley-rpc") === "1") {
      const { method, args } = (await request.json()) as { method: string; args: unknown[] };
      return Response.json(await this.#room.call(method, args));
    }
    return this.#room.events(request);
  }

  static onBeforeConnect = beforeConnect;
  static onBeforeRequest = internalOnly;
}
