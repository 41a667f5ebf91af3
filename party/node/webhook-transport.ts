/**
 * Webhook requests from Node (and Deno, through its Node compatibility): node:http with our
 * own DNS lookup, so an endpoint that must be public is refused when its name resolves to a
 * private address at connection time, not only when it was registered (a name can be pointed
 * inward later: DNS rebinding). Keep-alive agents: a lane sends its events one after another
 * to the same host.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
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

const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
  publicHttp: new HttpAgent({
    keepAlive: true,
    maxSockets: 64,
    lookup: publicLookup,
  } as ConstructorParameters<typeof HttpAgent>[0]),
  publicHttps: new HttpsAgent({
    keepAlive: true,
    maxSockets: 64,
    lookup: publicLookup,
  } as ConstructorParameters<typeof HttpsAgent>[0]),
};

const STOPPED = "stopped (the endpoint was paused or removed, or the relay is closing)";

/** Reads at most `limit` bytes of a response, as text. */
function readBody(response: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        response.destroy(new Error(`the answer's body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.on("error", reject);
  });
}

export const nodeWebhookTransport: WebhookTransport = (request) =>
  new Promise((resolve, reject) => {
    const url = new URL(request.url);
    const https = url.protocol === "https:";
    const agent = request.publicOnly
      ? https
        ? agents.publicHttps
        : agents.publicHttp
      : https
        ? agents.https
        : agents.http;
    // A literal address bypasses the lookup: check it here.
    if (request.publicOnly && isPrivateAddress(url.hostname)) {
      reject(new Error(`${url.hostname} is a private address: refused`));
      return;
    }
    if (request.signal?.aborted) {
      reject(new Error(STOPPED));
      return;
    }
    const body = Buffer.from(request.body, "utf8");
    const req = (https ? httpsRequest : httpRequest)(url, {
      method: "POST",
      agent,
      headers: { ...request.headers, "content-length": String(body.byteLength) },
    });
    // One timer and one abort listener, dropped when the request closes (its answer read):
    // AbortSignal.timeout + AbortSignal.any per delivery made a signal, a timer and several
    // listeners each time, ~13 % of a delivery's CPU on Node 20 (issue 17).
    let ended: "timeout" | "stopped" | undefined;
    const timer = setTimeout(() => {
      ended = "timeout";
      req.destroy(new Error(`no answer within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    timer.unref();
    const stop = () => {
      ended = "stopped";
      req.destroy(new Error(STOPPED));
    };
    request.signal?.addEventListener("abort", stop);
    req.on("close", () => {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", stop);
    });
    req.on("response", (response) => {
      const retryAfter = (response.headers["retry-after"] as string | undefined) ?? null;
      const status = response.statusCode ?? 0;
      if (request.readBodyBytes === undefined) {
        // Drained, so the connection can carry the next event.
        response.resume();
        resolve({ status, retryAfter });
        return;
      }
      readBody(response, request.readBodyBytes).then(
        (text) => resolve({ status, retryAfter, body: text }),
        reject,
      );
    });
    req.on("error", (error: Error & { code?: string }) => {
      if (ended === "timeout") reject(new Error(`no answer within ${request.timeoutMs} ms`));
      else if (ended === "stopped") reject(new Error(STOPPED));
      else reject(new Error(`could not deliver: ${error.code ?? ""} ${error.message}`.replace("  ", " ")));
    });
    req.end(body);
  });
