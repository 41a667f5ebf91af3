/**
 * An edge actor's own durable storage: the Durable Object's `this.ctx.storage` on Cloudflare,
 * `room.storage` on PartyKit (the same Durable Object storage underneath). The one seam both
 * shells hand over, as the few methods the actors use.
 *
 * Why not libSQL: what lives here is routing state of the actors themselves (which members'
 * inboxes listen to a room, which rooms an inbox registered with). It must survive hibernation
 * and eviction, but it is no part of the conversation: reading it costs no round trip to a
 * database that may be in another region, and it goes away with the actor.
 */
export interface ActorStorage {
  get<T = unknown>(key: string): Promise<T | undefined>;
  list<T = unknown>(options: { prefix: string; limit?: number }): Promise<Map<string, T>>;
  put<T>(key: string, value: T): Promise<void>;
  delete(key: string): Promise<boolean>;
}
