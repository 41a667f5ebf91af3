/**
 * Requests to a relay whose answers are checked against the OpenAPI document by Stoplight Prism:
 * through its validating proxy (test/helpers/validating-proxy.ts) when Prism can carry the
 * request, else sent directly and the answer checked with Prism's own response validator (the
 * one the proxy runs). Direct: event streams (the proxy would wait for the end of an endless
 * body), and JSON bodies that are not an object or array: the proxy answers malformed JSON
 * itself, drops a falsy body (`null`, `0`) and forwards a string unquoted, while still sending
 * the original Content-Length, so the relay would wait for bytes that never come and read the
 * next request's first bytes as the body. Every answer is also checked to be no 5xx.
 */
import { answerBody, DocumentValidator, type IHttpOperation, jsonOf } from "./document-validator.ts";
import { startValidatingProxy, type ValidatingProxy } from "./validating-proxy.ts";

export interface Exchange {
  method: string;
  /** Path and query, as sent. */
  path: string;
  /** A bearer credential, or none. */
  auth?: string | null;
  /** A JSON body (sent as application/json unless `contentType` says otherwise). */
  body?: unknown;
  /** A body sent exactly as is. */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Checked {
  status: number;
  headers: Headers;
  text: string;
  /** The body as JSON, or null. */
  json: unknown;
  /** The document's operation the request went to (its operationId), if one matched. */
  operation: string | undefined;
  /** What the document does not allow in this answer (empty: allowed). */
  problems: string[];
  /** Whether the answer came through the proxy. */
  proxied: boolean;
}

const REQUEST_TIMEOUT_MS = 15_000;

export class DocumentCheck {
  /** Statuses seen per operationId. */
  readonly seen = new Map<string, Set<number>>();

  private constructor(
    private readonly proxy: ValidatingProxy,
    private readonly relayUrl: string,
    private readonly document: DocumentValidator,
  ) {}

  /** Prism's proxy in front of `relayUrl`, validating against `document`. */
  static async start(document: object, relayUrl: string): Promise<DocumentCheck> {
    return new DocumentCheck(
      await startValidatingProxy(document, relayUrl),
      relayUrl,
      await DocumentValidator.of(document),
    );
  }

  close(): Promise<void> {
    return this.proxy.close();
  }

  /** Sends `x`, checks the answer against the document, and records what was seen. */
  async exchange(x: Exchange): Promise<Checked> {
    const operation = this.document.match(x.method, x.path);
    const headers: Record<string, string> = { ...x.headers };
    if (x.auth) headers.authorization = `Bearer ${x.auth}`;
    let body: string | undefined;
    if (x.raw !== undefined) body = x.raw;
    else if (x.body !== undefined) body = JSON.stringify(x.body);
    if (body !== undefined) headers["content-type"] = x.contentType ?? "application/json";
    const stream = DocumentValidator.streams(operation);
    const proxyAltersBody =
      body !== undefined && /json/i.test(headers["content-type"] ?? "") && !isJsonObjectText(body);
    const direct = stream || proxyAltersBody || operation === undefined;
    const checked = direct
      ? await this.direct(x.method, x.path, headers, body, operation, stream)
      : await this.proxied(x.method, x.path, headers, body);
    checked.operation = operation?.iid ?? operation?.id;
    if (checked.status >= 500 && !checked.problems.length)
      checked.problems.push(`the relay answered ${checked.status}`);
    if (operation === undefined)
      checked.problems.push(`no operation of the document matches ${x.method} ${x.path}`);
    const key = checked.operation ?? `${x.method} ${x.path}`;
    const statuses = this.seen.get(key) ?? new Set<number>();
    statuses.add(checked.status);
    this.seen.set(key, statuses);
    return checked;
  }

  private async proxied(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Checked> {
    const res = await fetch(`${this.proxy.url}${path}`, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    const problems: string[] = [];
    const warnings = res.headers.get("sl-violations");
    if (warnings) problems.push(`Prism: ${warnings}`);
    if (/problem\+json/.test(res.headers.get("content-type") ?? "")) {
      // Prism's own answer: a violation (errors on), or it could not route or forward.
      problems.push(`Prism refused the exchange: ${text.slice(0, 2000)}`);
    }
    return {
      status: res.status,
      headers: res.headers,
      text,
      json: jsonOf(text),
      operation: undefined,
      problems,
      proxied: true,
    };
  }

  private async direct(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    operation: IHttpOperation | undefined,
    stream: boolean,
  ): Promise<Checked> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    try {
      const res = await fetch(`${this.relayUrl}${path}`, { method, headers, body, signal: abort.signal });
      const isStream = stream && /text\/event-stream/.test(res.headers.get("content-type") ?? "");
      // An event stream never ends: its headers are the answer; the body is not waited for.
      const text = isStream ? "" : await res.text();
      if (isStream) abort.abort();
      const problems = operation
        ? DocumentValidator.problems(operation, {
            status: res.status,
            headers: Object.fromEntries(res.headers),
            body: answerBody(res.headers.get("content-type") ?? "", text),
          })
        : [];
      return {
        status: res.status,
        headers: res.headers,
        text,
        json: jsonOf(text),
        operation: undefined,
        problems,
        proxied: false,
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** JSON text of an object or an array: what the proxy forwards byte for byte. */
function isJsonObjectText(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null;
  } catch {
    return false;
  }
}
