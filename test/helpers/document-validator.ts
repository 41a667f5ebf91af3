/**
 * The OpenAPI document as Stoplight Prism reads it: which operation a request goes to, and what
 * the document does not allow in an answer, judged by Prism's own response validator (the one
 * its validating proxy runs). Shared by the fuzz/route checker (openapi-check.ts) and the proxy
 * that every contract test's HTTP goes through (answer-check-proxy.ts).
 */
import { getHttpOperationsFromSpec } from "@stoplight/prism-http";
// Prism's response validator, the one its proxy runs (not in the package's index).
import { validateOutput } from "@stoplight/prism-http/dist/validator/index.js";

export type IHttpOperation = Awaited<ReturnType<typeof getHttpOperationsFromSpec>>[number];

/** An answer as it came back: status, headers, and the body (JSON parsed, else text). */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

interface Matcher {
  operation: IHttpOperation;
  method: string;
  pattern: RegExp;
}

export class DocumentValidator {
  private constructor(private readonly matchers: Matcher[]) {}

  /** Reads `document` (an OpenAPI 3.1 object) with Prism's parser. */
  static async of(document: object): Promise<DocumentValidator> {
    const operations = await getHttpOperationsFromSpec(JSON.parse(JSON.stringify(document)));
    return new DocumentValidator(
      operations.map((operation) => ({
        operation,
        method: operation.method.toUpperCase(),
        pattern: new RegExp(
          `^${operation.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`,
        ),
      })),
    );
  }

  /** The operation `method path` goes to (exact paths before templates, as routers do). */
  match(method: string, path: string): IHttpOperation | undefined {
    const pathname = path.split("?")[0] ?? path;
    const candidates = this.matchers.filter((m) => m.method === method && m.pattern.test(pathname));
    const exact = candidates.find((m) => !m.operation.path.includes("{"));
    return (exact ?? candidates[0])?.operation;
  }

  /** Whether the operation answers with an endless event stream. */
  static streams(operation: IHttpOperation | undefined): boolean {
    return (
      operation?.responses.some((r) => r.contents?.some((c) => c.mediaType === "text/event-stream")) ?? false
    );
  }

  /** What the document does not allow in `answer` to `operation` (errors and warnings; empty: allowed). */
  static problems(operation: IHttpOperation, answer: Answer): string[] {
    const result = validateOutput({
      resource: operation,
      element: { statusCode: answer.status, headers: answer.headers, body: answer.body },
    });
    if (result._tag !== "Left") return [];
    return result.left
      .filter((d) => d.severity <= 1)
      .map((d) => `Prism's validator: ${d.path?.join(".") ?? ""} ${d.message}`);
  }
}

/** The body of an answer as the validator wants it: parsed when JSON, else the text. */
export function answerBody(contentType: string, text: string): unknown {
  return /json/.test(contentType) ? jsonOf(text) : text;
}

/** `text` parsed as JSON, or null when it is empty or not JSON. */
export function jsonOf(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
