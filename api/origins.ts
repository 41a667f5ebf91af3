/** Which browser origins may call the API and open sockets. */
export interface OriginPolicy {
  /** Exact origins (scheme://host[:port]); empty means "none" in production. */
  allowed: readonly string[];
  /** Dev mode with no list: any localhost origin is allowed. */
  allowLocalhost: boolean;
}

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/** True when a request may proceed: no Origin (not a browser) or an allowed one. */
export function originAllowed(origin: string | null | undefined, policy: OriginPolicy): boolean {
  if (!origin) return true;
  if (policy.allowed.includes(origin) || policy.allowed.includes("*")) return true;
  return policy.allowLocalhost && LOCALHOST.test(origin);
}
