/**
 * What `getToken` (or the `token` attribute) may give the widget. Back ends differ: some return
 * the bare JWT, others the relay's own `{ "token": "…" }` answer, as an object or as its JSON
 * text, or the fetch Response itself. All of these work. Anything else is a mistake in the host
 * page that no retry can fix: it is reported once on the console, by its shape only (never its
 * contents, which may hold a secret), and the widget stops instead of asking again and again.
 */

/** The value was not a token: `shape` says what it was, without its contents. */
export class TokenShapeError extends Error {
  constructor(readonly shape: string) {
    super(`parley-chat: token or getToken must give a JWT or { "token": "<jwt>" }, but it gave ${shape}`);
    this.name = "TokenShapeError";
  }
}

const JWT = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** The JWT in `value`, or a {@link TokenShapeError}. */
export async function tokenFrom(value: unknown): Promise<string> {
  if (isResponse(value)) {
    if (!value.ok) throw new Error(`the token endpoint answered HTTP ${value.status}`);
    return tokenFrom(await value.text());
  }
  if (typeof value === "string") {
    const text = value.trim();
    if (JWT.test(text)) return text;
    if (text.startsWith("{")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new TokenShapeError(`${text.length} characters of text that is not JSON`);
      }
      return fromObject(parsed, "JSON text of ");
    }
    throw new TokenShapeError(
      text.startsWith("<") ? "HTML (an error page?)" : `${text.length} characters of text that is not a JWT`,
    );
  }
  return fromObject(value, "");
}

/** The token of `{ token }`; `via` names how it came ("JSON text of ", or nothing). */
function fromObject(value: unknown, via: string): string {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const token = (value as { token?: unknown }).token;
    if (typeof token === "string" && JWT.test(token.trim())) return token.trim();
    const keys = Object.keys(value).slice(0, 8);
    throw new TokenShapeError(
      `${via}an object with ${keys.length ? `the keys ${keys.join(", ")}` : "no keys"}` +
        ("token" in value ? ` (its token is ${describe(token)}, not a JWT)` : ""),
    );
  }
  throw new TokenShapeError(via + describe(value));
}

/** The type of a value, never its contents. */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? `a ${value.length}-character string` : `a ${typeof value}`;
}

interface ResponseLike {
  ok: boolean;
  status: number;
  text(): Promise<string>;
}

function isResponse(value: unknown): value is ResponseLike {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ResponseLike).text === "function" &&
    typeof (value as ResponseLike).ok === "boolean"
  );
}
