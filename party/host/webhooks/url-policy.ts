/**
 * Which URLs a webhook may point at. A webhook URL makes the relay send requests where someone
 * else chose: the classic door to a server-side request forgery. So: http and https only, no
 * credentials in the URL, and — for endpoints registered through the API in production — no
 * private, loopback, link-local or otherwise internal address, checked on the URL here and, on
 * Node, again on every address a host name resolves to when a delivery connects (so a name
 * that later resolves inward is refused too). Operators who run their back end on a private
 * network allow it with PARLEY_WEBHOOK_ALLOW_PRIVATE=1; endpoints and hooks from the relay's
 * own configuration are the operator's choice and are not restricted. SECURITY.md says the same.
 */
import { ParleyError } from "../../core/errors.ts";

const MAX_URL_LENGTH = 2048;

/** Whether an IPv4 or IPv6 address (as text) is not a public unicast address. */
export function isPrivateAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, "").toLowerCase();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 0 || // "this network"
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
      (a === 169 && b === 254) || // link-local, cloud metadata
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0) || // IETF protocol assignments
      (a === 198 && (b === 18 || b === 19)) || // benchmarking
      a >= 224 // multicast, reserved, broadcast
    );
  }
  if (!ip.includes(":")) return false;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(ip);
  if (mapped?.[1]) return isPrivateAddress(mapped[1]);
  return (
    ip === "::" ||
    ip === "::1" ||
    ip.startsWith("fc") ||
    ip.startsWith("fd") || // unique local
    /^fe[89ab]/.test(ip) || // link-local
    ip.startsWith("ff") || // multicast
    ip.startsWith("::ffff:") // other IPv4-mapped forms
  );
}

/** Host names that always mean this machine or its network. */
const internalName = (host: string) =>
  host === "localhost" ||
  host.endsWith(".localhost") ||
  host.endsWith(".local") ||
  host.endsWith(".internal");

/**
 * Checks a webhook or hook URL; 400 with the reason when it cannot be used. `publicOnly`
 * refuses internal addresses and names as well.
 */
export function checkWebhookUrl(raw: string, publicOnly: boolean): URL {
  if (raw.length > MAX_URL_LENGTH)
    throw new ParleyError("bad_request", `url: at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ParleyError("bad_request", "url: not a valid absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new ParleyError("bad_request", "url: only http and https URLs can receive webhooks");
  if (url.username || url.password)
    throw new ParleyError(
      "bad_request",
      "url: credentials in the URL are not allowed (the signature authenticates)",
    );
  if (publicOnly) {
    const host = url.hostname.toLowerCase();
    if (internalName(host) || isPrivateAddress(host))
      throw new ParleyError(
        "bad_request",
        "url: private, loopback and link-local addresses are refused in production (PARLEY_WEBHOOK_ALLOW_PRIVATE=1 allows them)",
      );
  }
  return url;
}
