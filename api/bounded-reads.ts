/**
 * Answers to reads (history, long-polls, the thread list) that hold their user's slot until
 * the client has taken the whole body. Each answer is at most about `pageBytes`; each user has
 * at most `maxReadsPerUser` of them on their way at once (429 beyond). A client that asks and
 * never reads therefore pins a bounded amount, and only until its connection times out.
 */
import type { Context } from "hono";
import { ParleyError } from "../party/core/errors.ts";

const encoder = new TextEncoder();
/** Bytes handed to the HTTP server per pull: it asks for the next chunk only once the socket drained. */
const CHUNK_BYTES = 64 * 1024;

export class ReadSlots {
  #inFlight = new Map<string, number>();

  constructor(
    private readonly maxPerUser: () => number,
    /** Told of each refusal (metrics). */
    private readonly refused: () => void = () => {},
  ) {}

  /** Takes a slot of the user's; its release, or 429 when they have too many reads on the way. */
  acquire(app: string, userId: string): () => void {
    const key = `${app}\u0000${userId}`;
    const open = this.#inFlight.get(key) ?? 0;
    if (open >= this.maxPerUser()) {
      this.refused();
      throw new ParleyError("rate_limited", "too many reads on their way to this user; read them first", 1);
    }
    this.#inFlight.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.#inFlight.set(key, left);
      else this.#inFlight.delete(key);
    };
  }
}

/**
 * A JSON answer streamed in chunks as the client reads; `release` runs once it has all been
 * handed over, or the client went away.
 */
export function jsonReleasing(c: Context, value: unknown, release: () => void): Response {
  const bytes = encoder.encode(JSON.stringify(value));
  let offset = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (offset >= bytes.byteLength) {
          controller.close();
          release();
          return;
        }
        const chunk = bytes.subarray(offset, offset + CHUNK_BYTES);
        offset += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel: release,
    },
    { highWaterMark: 0 },
  );
  c.header("Content-Type", "application/json; charset=UTF-8");
  c.header("Content-Length", String(bytes.byteLength));
  return c.body(body);
}
