/**
 * Webhook endpoints for the bench: one that answers every delivery 204 (as fast as loopback
 * allows), counting the `message.created` events among them, and the URL of one that is down
 * (a port nobody listens on).
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface WebhookSink {
  url: string;
  /** Deliveries answered so far. */
  readonly received: number;
  /** Of those, `message.created` events: one per committed send. */
  readonly messages: number;
  close(): Promise<void>;
}

export const benchWebhookSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

export async function startWebhookSink(): Promise<WebhookSink> {
  let received = 0;
  let messages = 0;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      received++;
      if (body.startsWith('{"type":"message.created"')) messages++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    get received() {
      return received;
    },
    get messages() {
      return messages;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A URL where nothing listens: a port that was free a moment ago. */
export async function downUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return `http://127.0.0.1:${port}/`;
}
