/**
 * A real webhook receiver for tests: an HTTP server on loopback that verifies every request
 * with the `standardwebhooks` package (a library nobody here wrote), records what it got, and
 * answers as the test says — 2xx, an error status, `Retry-After`, a hang, a dropped connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Webhook } from "standardwebhooks";
import type { Json } from "./clients.ts";
import { recordSecret } from "./secrets.ts";

/** One request as the receiver saw it. */
export interface Received {
  id: string;
  timestamp: number;
  /** Parsed body (verified). */
  event: { type: string; app: string; conversationId: string; seq?: number; timestamp: string; data: Json };
  /** When it arrived (Date.now()). */
  at: number;
  /** Whether the signature verified with `standardwebhooks`. */
  verified: boolean;
  path: string;
}

/** What to do with one request: the status to answer (and headers, a body), or a fault. */
export type Reply =
  | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }
  | { hang: true }
  | { drop: true };

export interface Receiver {
  readonly url: string;
  readonly port: number;
  /** Every request, in arrival order (also those answered with an error). */
  readonly requests: Received[];
  /** Requests that were answered 2xx. */
  readonly accepted: Received[];
  /** Requests whose signature did not verify (should stay empty). */
  readonly forged: Array<{ headers: IncomingMessage["headers"]; body: string; error: string }>;
  /** Decides each answer (default: 204). */
  reply: (request: Received, attempt: number) => Reply | Promise<Reply>;
  /** The secret to verify with (set it once known, e.g. from the 201 of POST /v1/webhooks). */
  secret: string | undefined;
  /** Stops listening and drops open connections (the endpoint is "down"). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(secret?: string, port = 0): Promise<Receiver> {
  recordSecret(secret);
  const sockets = new Set<Socket>();
  const attempts = new Map<string, number>();
  let server: Server;
  const receiver: Receiver = {
    url: "",
    port: 0,
    requests: [],
    accepted: [],
    forged: [],
    reply: () => ({ status: 204 }),
    // Recorded when set (from a 201 of POST /v1/webhooks, say) for the secrets check.
    get secret() {
      return secret;
    },
    set secret(value: string | undefined) {
      recordSecret(value);
      secret = value;
    },
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
    start: async () => {
      server = makeServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(receiver.port, "127.0.0.1", () => resolve());
      });
    },
    close: () => receiver.stop(),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    let event: Received["event"];
    let verified = false;
    try {
      if (!receiver.secret) throw new Error("the receiver has no secret yet");
      event = new Webhook(receiver.secret).verify(body, {
        "webhook-id": String(req.headers["webhook-id"]),
        "webhook-timestamp": String(req.headers["webhook-timestamp"]),
        "webhook-signature": String(req.headers["webhook-signature"]),
      }) as Received["event"];
      verified = true;
    } catch (error) {
      receiver.forged.push({ headers: req.headers, body, error: (error as Error).message });
      event = JSON.parse(body);
    }
    const id = String(req.headers["webhook-id"]);
    const received: Received = {
      id,
      timestamp: Number(req.headers["webhook-timestamp"]),
      event,
      at: Date.now(),
      verified,
      path: req.url ?? "/",
    };
    receiver.requests.push(received);
    const attempt = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, attempt);
    const reply = await receiver.reply(received, attempt);
    if ("hang" in reply) return; // never answers; the relay's timeout ends it
    if ("drop" in reply) {
      req.socket.destroy();
      return;
    }
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (reply.status >= 200 && reply.status < 300 && verified) receiver.accepted.push(received);
    res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
    res.end(reply.body ?? "");
  };

  function makeServer(): Server {
    const s = createServer((req, res) => {
      handle(req, res).catch((error) => {
        res.writeHead(500);
        res.end(String(error));
      });
    });
    s.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    return s;
  }

  server = makeServer();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  const bound = (server.address() as AddressInfo).port;
  Object.assign(receiver, { port: bound, url: `http://127.0.0.1:${bound}` });
  return receiver;
}

/** A fresh `whsec_` secret for configured endpoints and hooks. */
export function whsec(): string {
  const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
  recordSecret(secret);
  return secret;
}

/**
 * Checks what one conversation delivered: strictly increasing seqs among the accepted log
 * events with no hole from `first` to `last`, and every duplicate a retry of the same id.
 */
export function deliveredSeqs(receiver: Receiver, conversationId: string): number[] {
  const seen = new Set<string>();
  const seqs: number[] = [];
  for (const r of receiver.accepted) {
    if (r.event.conversationId !== conversationId || r.event.seq === undefined) continue;
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    seqs.push(r.event.seq);
  }
  return seqs;
}
