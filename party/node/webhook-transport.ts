/**
 * Webhook requests from Node (and Deno, through its Node compatibility): undici's HTTP/1.1
 * client with our own DNS lookup, so an endpoint that must be public is refused when its name
 * resolves to a private address at connection time, not only when it was registered (a name
 * can be pointed inward later: DNS rebinding). Keep-alive pools: a lane sends its events one
 * after another to the same host.
 *
 * undici rather than node:http because a delivery is paid for on every committed event: on
 * this project's bench VM, node:http cost ~75 µs of CPU per loopback request and undici ~35
 * (issue 17, BENCHMARKS.md).
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { EventEmitter } from "node:events";
import type { LookupFunction } from "node:net";
import { Agent } from "undici";
import type { WebhookTransport } from "../host/webhooks/transport.ts";
import { isPrivateAddress } from "../host/webhooks/url-policy.ts";

/** A lookup that fails for private addresses (every address of the name must be public). */
const publicLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, "", 0);
    const list = addresses as LookupAddress[];
    const inward = list.find((a) => isPrivateAddress(a.address));
    if (inward || list.length === 0) {
      const refused = Object.assign(
        new Error(`${hostname} resolves to ${inward?.address ?? "nothing"}: private addresses are refused`),
        { code: "EPRIVATEADDRESS" },
      );
      return callback(refused, "", 0);
    }
    if ((options as { all?: boolean }).all)
      return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    const first = list[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
};

/** Pools per origin, up to 64 connections each; the timeouts are ours (see `Delivery`). */
const agents = {
  any: new Agent({ connections: 64, headersTimeout: 0, bodyTimeout: 0 }),
  publicOnly: new Agent({
    connections: 64,
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { lookup: publicLookup },
  }),
};

const STOPPED = "stopped (the endpoint was paused or removed, or the relay is closing)";

/**
 * One delivery's own abort, as the EventEmitter undici also accepts as a `signal`: a timer and
 * the host's stop end it. Not an AbortController: on Node 20 a controller per delivery plus a
 * listener on the host's signal (EventTarget) cost ~20 µs of a ~40 µs delivery in a loopback
 * benchmark.
 */
class Delivery extends EventEmitter {
  ended: "timeout" | "stopped" | undefined;
  reason: Error | undefined;
  end(why: "timeout" | "stopped", message: string): void {
    if (this.ended) return;
    this.ended = why;
    this.reason = new Error(message);
    this.emit("abort");
  }
}

/**
 * Deliveries in flight per host signal, with one listener on each signal: the host aborts its
 * signal once, when it closes or pauses an endpoint, and every delivery under it stops.
 */
const inFlight = new WeakMap<AbortSignal, Set<Delivery>>();

function watch(signal: AbortSignal, delivery: Delivery): Set<Delivery> {
  let set = inFlight.get(signal);
  if (!set) {
    const deliveries = new Set<Delivery>();
    set = deliveries;
    inFlight.set(signal, deliveries);
    signal.addEventListener("abort", () => {
      for (const d of deliveries) d.end("stopped", STOPPED);
    });
  }
  set.add(delivery);
  return set;
}

/** An answer longer than the hook may send: said as it is, not as "could not deliver". */
class TooLarge extends Error {}

/** Reads at most `limit` bytes of a body, as text. */
async function readLimited(
  body: AsyncIterable<Buffer> & { destroy(): unknown },
  limit: number,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) {
      body.destroy();
      throw new TooLarge(`the answer's body is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export const nodeWebhookTransport: WebhookTransport = async (request) => {
  const url = new URL(request.url);
  // A literal address bypasses the lookup: check it here.
  if (request.publicOnly && isPrivateAddress(url.hostname))
    throw new Error(`${url.hostname} is a private address: refused`);
  if (request.signal?.aborted) throw new Error(STOPPED);
  const delivery = new Delivery();
  const timer = setTimeout(
    () => delivery.end("timeout", `no answer within ${request.timeoutMs} ms`),
    request.timeoutMs,
  );
  timer.unref();
  const watching = request.signal ? watch(request.signal, delivery) : undefined;
  try {
    const response = await (request.publicOnly ? agents.publicOnly : agents.any).request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: "POST",
      headers: request.headers,
      body: request.body,
      signal: delivery,
    });
    const retryAfter = (response.headers["retry-after"] as string | undefined) ?? null;
    if (request.readBodyBytes === undefined) {
      // Drained, so the connection can carry the next event.
      await response.body.dump();
      return { status: response.statusCode, retryAfter };
    }
    const text = await readLimited(response.body, request.readBodyBytes);
    return { status: response.statusCode, retryAfter, body: text };
  } catch (error) {
    if (delivery.ended) throw delivery.reason;
    if (error instanceof TooLarge) throw error;
    const { code, message } = error as Error & { code?: string };
    // undici's own codes (UND_ERR_…) say no more than the message; a system code (ECONNREFUSED,
    // EPRIVATEADDRESS) is kept, as node:http's errors gave it.
    const shown =
      code && !code.startsWith("UND_ERR") && !message.includes(code) ? `${code} ${message}` : message;
    throw new Error(`could not deliver: ${shown}`);
  } finally {
    clearTimeout(timer);
    watching?.delete(delivery);
  }
};
