/**
 * A validating proxy in front of a relay: Stoplight Prism (`@stoplight/prism-http-server`, the
 * server behind `prism proxy`) forwards each request to the relay and checks the answer against
 * the OpenAPI document. With `errors` on, an answer the document does not allow (an undocumented
 * status, a body or header that breaks its schema) is replaced by Prism's 500
 * `application/problem+json` of type VIOLATIONS; warnings come in the `sl-violations` header.
 * Requests are forwarded as they are (`validateRequest: false`): the relay's own refusals of
 * bad input are what the document must describe.
 */
import { createLogger } from "@stoplight/prism-core";
import { getHttpOperationsFromSpec } from "@stoplight/prism-http";
import { createServer } from "@stoplight/prism-http-server";

export interface ValidatingProxy {
  /** `http://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts Prism in proxy mode on a free loopback port, in front of `upstream`. */
export async function startValidatingProxy(document: object, upstream: string): Promise<ValidatingProxy> {
  const operations = await getHttpOperationsFromSpec(JSON.parse(JSON.stringify(document)));
  const logger = createLogger("prism", { level: process.env.PRISM_LOG ?? "silent" });
  const server = createServer(operations, {
    cors: false,
    components: { logger },
    config: {
      isProxy: true,
      upstream: new URL(upstream),
      upstreamProxy: undefined,
      mock: { dynamic: false },
      checkSecurity: false,
      validateRequest: false,
      validateResponse: true,
      errors: true,
    },
  });
  const address = await server.listen(0, "127.0.0.1");
  return { url: address.replace(/\/$/, ""), close: () => server.close() };
}
