/**
 * Per-user inbound byte budgets for a single-process relay (Node, Deno): what one user may make
 * the relay read and parse per second, across all their sockets and HTTP bodies. One member with
 * a hundred sockets gets the budget of one member. Buckets of users who went quiet are dropped.
 * (On the edge every connection lives in its own actor, so the budget there is per connection.)
 */
import type { Limits } from "../core/limits.ts";
import { noMetrics, type RelayMetrics } from "../core/metrics.ts";
import { TokenBucket } from "../core/token-bucket.ts";

const keyOf = (app: string, userId: string) => `${app}\u0000${userId}`;

export class UserBudgets {
  #buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limits: Limits,
    private readonly now: () => number,
    /** Counts refusals (`user_bytes`). */
    private readonly metrics: RelayMetrics = noMetrics,
  ) {}

  #bucket(app: string, userId: string): TokenBucket {
    const key = keyOf(app, userId);
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.limits.inboundBytesPerSecond, this.limits.inboundBytesBurst, this.now());
      this.#buckets.set(key, bucket);
    }
    return bucket;
  }

  /** Charges `bytes` to the user; false (nothing charged) when they are over their budget. */
  charge(app: string, userId: string, bytes: number): boolean {
    if (this.#bucket(app, userId).take(this.now(), bytes) === 0) return true;
    this.metrics.rateLimited("user_bytes");
    return false;
  }

  /**
   * True when the user could not send even one largest frame now: a new connection of theirs
   * is refused at once (4008) instead of costing an upgrade and then a refusal per frame.
   */
  exhausted(app: string, userId: string): boolean {
    const bucket = this.#buckets.get(keyOf(app, userId));
    return bucket !== undefined && bucket.available(this.now()) < this.limits.maxFrameBytes;
  }

  /** Forgets users whose budget is full again (they owe nothing). */
  sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.#buckets) if (bucket.full(now)) this.#buckets.delete(key);
  }
}
