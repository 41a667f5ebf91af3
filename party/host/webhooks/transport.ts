/**
 * How a webhook (or the pre-send hook) leaves the relay: one POST, answered or not within a
 * timeout. A small seam, because runtimes differ in what they can guard: Node resolves the
 * name itself and refuses private addresses (node/webhook-transport.ts); the edge uses fetch,
 * where the platform keeps Workers off private networks.
 */

export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Aborts the request (the host is shutting down). */
  signal?: AbortSignal | undefined;
  /** Refuse a host name that resolves to a private, loopback or link-local address. */
  publicOnly: boolean;
  /** Read the answer's body, up to this many bytes (the hook's verdict); otherwise it is discarded. */
  readBodyBytes?: number | undefined;
}

export interface DeliveryAnswer {
  status: number;
  /** The `Retry-After` header, as sent. */
  retryAfter: string | null;
  /** The body, when asked for (cut at `readBodyBytes`). */
  body?: string | undefined;
}

/** Sends one request; throws (with a message fit for `lastError`) when no answer came. */
export type WebhookTransport = (request: DeliveryRequest) => Promise<DeliveryAnswer>;

/** Reads at most `limit` bytes of a body as text. */
async function readLimited(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new Error(`the answer's body is larger than ${limit} bytes`);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The web-standard transport (fetch); redirects are not followed (a 3xx is a failure). The
 * timeout is a timer cleared once the answer is read, not `AbortSignal.timeout`: that one's
 * timer outlives the request, and on PartyKit's workerd it fired later in an I/O context that
 * was not the Durable Object's any more (uncaught "Cannot perform I/O on behalf of a different
 * Durable Object" and internal errors after hook calls).
 */
export const fetchTransport: WebhookTransport = async (request) => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), request.timeoutMs);
  const stop = () => controller.abort();
  if (request.signal?.aborted) controller.abort();
  request.signal?.addEventListener("abort", stop);
  try {
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: "POST",
        headers: request.headers,
        body: request.body,
        redirect: "manual",
        signal: controller.signal,
      });
    } catch (error) {
      if (controller.signal.aborted) throw new Error(`no answer within ${request.timeoutMs} ms`);
      throw new Error(`could not connect: ${(error as Error).message}`);
    }
    const retryAfter = response.headers.get("retry-after");
    if (request.readBodyBytes === undefined) {
      await response.body?.cancel().catch(() => undefined);
      return { status: response.status, retryAfter };
    }
    try {
      return {
        status: response.status,
        retryAfter,
        body: await readLimited(response, request.readBodyBytes),
      };
    } catch (error) {
      if (controller.signal.aborted) throw new Error(`no complete answer within ${request.timeoutMs} ms`);
      throw error;
    }
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener("abort", stop);
  }
};

/** `Retry-After` in ms (seconds, or an HTTP date), within [0, maxMs]; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number, maxMs: number): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const trimmed = header.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), maxMs);
}
