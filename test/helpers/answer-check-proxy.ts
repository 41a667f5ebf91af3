/**
 * A validating proxy that the contract tests' HTTP goes through: it forwards every request to the
 * relay byte for byte and judges every answer against the OpenAPI document the relay serves,
 * with Stoplight Prism's response validator (the one `prism proxy` runs). What the document does
 * not allow is recorded (the test that caused it fails, see `useServer`); the answer itself is
 * passed on unchanged, so the test sees exactly what the relay said.
 *
 * Why not Prism's own proxy (validating-proxy.ts, used by openapi-proxy.test.ts): it re-encodes
 * bodies (a JSON `null` is dropped and a string forwarded unquoted, with the old Content-Length),
 * waits for the end of an endless event stream, and cannot carry a WebSocket upgrade, so the
 * contract tests, which send all of those on purpose, could not run through it.
 *
 * Event streams are judged by their status and headers and then streamed through; upgrades are
 * piped as raw TCP (the document describes no WebSocket). A request the document has no
 * operation for (an unknown path, on purpose) is passed on and counted, not judged.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import type { Violation } from "./answer-violations.ts";
import { answerBody, DocumentValidator } from "./document-validator.ts";

export interface AnswerCheckProxy {
  /** `http://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  /** Answers judged so far (for a test that wants to know the proxy saw its traffic). */
  readonly judged: number;
  /** The violations recorded since the last call, and forgets them. */
  takeViolations(): Violation[];
  close(): Promise<void>;
}

/** Headers that belong to one hop and are not forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/**
 * Starts the proxy in front of the relay at `upstreamPort()` (read per request, so a restarted
 * relay on another port is followed), judging answers against `document`.
 */
export async function startAnswerCheckProxy(
  document: object,
  upstreamPort: () => number,
): Promise<AnswerCheckProxy> {
  const validator = await DocumentValidator.of(document);
  let violations: Violation[] = [];
  let judged = 0;

  const server = http.createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const operation = validator.match(method, path);
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: upstreamPort(),
        method,
        path,
        headers: forwardable(req.headers),
        // A connection per request: a kept-alive one that the relay closes as idle just as the
        // next request goes out would fail that request, which the relay never saw.
        agent: false,
      },
      (answer) => {
        const status = answer.statusCode ?? 0;
        const headers = flatHeaders(answer.headers);
        const judge = (body: unknown) => {
          if (!operation) return;
          judged++;
          const problems = DocumentValidator.problems(operation, { status, headers, body });
          if (problems.length) violations.push({ request: `${method} ${path}`, status, problems });
        };
        const outHeaders = { ...answer.headers };
        for (const h of HOP_BY_HOP) delete outHeaders[h];
        if (/text\/event-stream/.test(headers["content-type"] ?? "")) {
          // Endless: judged on its head, then streamed as the relay writes it.
          judge("");
          res.writeHead(status, outHeaders);
          res.flushHeaders();
          answer.pipe(res);
          res.once("close", () => answer.destroy());
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.once("error", () => res.destroy());
        answer.once("end", () => {
          const bytes = Buffer.concat(chunks);
          // A compressed body (the widget) is not text the validator could read.
          const encoded =
            headers["content-encoding"] !== undefined && headers["content-encoding"] !== "identity";
          judge(encoded ? "" : answerBody(headers["content-type"] ?? "", bytes.toString("utf8")));
          outHeaders["content-length"] = String(bytes.length);
          res.writeHead(status, outHeaders);
          res.end(bytes);
        });
      },
    );
    // The relay unreachable (stopped, killed): the client sees a failed connection, as it
    // would without the proxy, not an answer the relay never gave.
    upstream.once("error", () => {
      req.socket.destroy();
    });
    req.pipe(upstream);
    req.once("aborted", () => upstream.destroy());
    res.once("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });

  // Upgraded connections leave the HTTP server's books: closed by hand on close().
  const tunnels = new Set<net.Socket>();
  server.on("upgrade", (req, socket, head) => {
    const relay = net.connect(upstreamPort(), "127.0.0.1", () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      relay.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length) relay.write(head);
      relay.pipe(socket);
      socket.pipe(relay);
    });
    tunnels.add(relay);
    const end = () => {
      tunnels.delete(relay);
      relay.destroy();
      socket.destroy();
    };
    relay.once("error", end);
    socket.once("error", end);
    relay.once("close", end);
    socket.once("close", end);
  });

  // Long-polls and event streams stay open as long as the test wants.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get judged() {
      return judged;
    },
    takeViolations() {
      const taken = violations;
      violations = [];
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const tunnel of tunnels) tunnel.destroy();
      }),
  };
}

function forwardable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}
