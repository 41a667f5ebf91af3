/**
 * A real TCP proxy for fault injection (node:net, loopback only). Clients connect to
 * `proxy.url`; every connection is forwarded to the target port, which is read per connection
 * so it follows a restarted server. Faults:
 *
 * - `cutAll()`: destroy every open connection now (both sides see it).
 * - `stall()`: stop forwarding in both directions and close nothing — a half-open network.
 *   New connections are accepted and black-holed too. `pass()` restores new connections;
 *   stalled ones stay dead (their clients must notice on their own).
 * - `delay(ms)`: add latency to every chunk, in order.
 * - `blockWebSockets(true)`: close connections that ask for a WebSocket upgrade (a strict
 *   corporate proxy); plain HTTP still passes. `blockRequests(re)`: the same for any request
 *   whose head matches (e.g. a proxy that breaks event streams).
 * - `dropNext({ match, phase })`: the next client→server request or WebSocket frame whose text
 *   matches is lost: before reaching the server (`request`), or after it (`response`: the
 *   connection dies on the first byte of the answer, so the server acted but the client never
 *   hears it). WebSocket client frames are unmasked to be matched.
 * - `respondNext({ match, status, headers })`: answer the next matching HTTP request itself
 *   (a 503 from a load balancer, say) without the server seeing it.
 */
import net from "node:net";

export interface DropRule {
  match: RegExp;
  phase: "request" | "response";
}

export interface RespondRule {
  match: RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface TcpProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Connections open now. */
  readonly connections: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /**
   * Connections whose target side is still open: the target has neither ended nor reset them.
   * Counted from the proxy's own sockets, even while stalled (a stall forwards nothing, but the
   * proxy still hears the target close), so nothing else on the machine moves it.
   */
  readonly targetOpen: number;
  pass(): void;
  cutAll(): void;
  stall(): void;
  delay(ms: number): void;
  blockWebSockets(on: boolean): void;
  /** Close connections whose first request matches `re` (null: block nothing more). */
  blockRequests(re: RegExp | null): void;
  /** Resolves when the rule fired (the request was dropped, or the answer cut). */
  dropNext(rule: DropRule): Promise<void>;
  /** Resolves when the rule fired. */
  respondNext(rule: RespondRule): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  stalled: boolean;
  first: boolean;
  websocket: boolean;
  /** Set by a `response` drop: die on the first byte from the server. */
  killOnAnswer: (() => void) | null;
  release: { up: number; down: number };
  /** The target ended or reset its side (heard even while stalled). */
  targetClosed: boolean;
}

/** Text of the complete client→server WebSocket frames in `buf` (unmasked), best effort. */
export function clientFrameText(buf: Buffer): string {
  const texts: string[] = [];
  let off = 0;
  for (let guard = 0; guard < 10_000 && off + 2 <= buf.length; guard++) {
    const b1 = buf[off + 1] as number;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (p + 2 > buf.length) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > buf.length) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const maskLen = masked ? 4 : 0;
    if (p + maskLen + len > buf.length) break;
    const payload = Buffer.from(buf.subarray(p + maskLen, p + maskLen + len));
    if (masked) {
      const mask = buf.subarray(p, p + 4);
      for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i % 4] as number);
    }
    texts.push(payload.toString("utf8"));
    off = p + maskLen + len;
  }
  return texts.join("\n");
}

export async function startTcpProxy(targetPort: () => number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let stalled = false;
  let delayMs = 0;
  let blockWs = false;
  let blockRe: RegExp | null = null;
  let accepted = 0;
  const drops: Array<DropRule & { fired: () => void }> = [];
  const responds: Array<RespondRule & { fired: () => void }> = [];

  const destroy = (pair: Pair) => {
    pair.client.destroy();
    pair.upstream?.destroy();
    pairs.delete(pair);
  };

  const forward = (pair: Pair, dir: "up" | "down", chunk: Buffer) => {
    const target = dir === "up" ? pair.upstream : pair.client;
    if (!target) return;
    if (delayMs <= 0 && pair.release[dir] <= Date.now()) {
      if (!target.destroyed) target.write(chunk);
      return;
    }
    const at = Math.max(Date.now() + delayMs, pair.release[dir]);
    pair.release[dir] = at;
    setTimeout(
      () => {
        if (!pair.stalled && !target.destroyed) target.write(chunk);
      },
      Math.max(0, at - Date.now()),
    );
  };

  const onClientData = (pair: Pair, chunk: Buffer) => {
    if (pair.stalled) return;
    let text: string;
    if (pair.first) {
      pair.first = false;
      text = chunk.toString("latin1");
      pair.websocket = /^upgrade:\s*websocket/im.test(text);
      if (pair.websocket && blockWs) {
        destroy(pair);
        return;
      }
    } else {
      text = pair.websocket ? clientFrameText(chunk) : chunk.toString("latin1");
    }
    // Every request on a kept-alive HTTP connection, not only the first.
    if (!pair.websocket && blockRe?.test(text)) {
      destroy(pair);
      return;
    }
    const respond = pair.websocket ? -1 : responds.findIndex((r) => r.match.test(text));
    if (respond !== -1) {
      const [rule] = responds.splice(respond, 1);
      if (rule) {
        const body = rule.body ?? JSON.stringify({ error: { code: "proxy", message: "injected by proxy" } });
        const headers = {
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          connection: "close",
          ...rule.headers,
        };
        const head = Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}`)
          .join("\r\n");
        pair.client.end(`HTTP/1.1 ${rule.status} Injected\r\n${head}\r\n\r\n${body}`);
        pair.upstream?.destroy();
        pairs.delete(pair);
        rule.fired();
        return;
      }
    }
    const drop = drops.findIndex((r) => r.match.test(text));
    if (drop !== -1) {
      const [rule] = drops.splice(drop, 1);
      if (rule?.phase === "request") {
        destroy(pair);
        rule.fired();
        return;
      }
      if (rule) {
        pair.killOnAnswer = () => {
          destroy(pair);
          rule.fired();
        };
      }
    }
    forward(pair, "up", chunk);
  };

  const server = net.createServer((client) => {
    accepted++;
    const pair: Pair = {
      client,
      upstream: null,
      stalled,
      first: true,
      websocket: false,
      killOnAnswer: null,
      release: { up: 0, down: 0 },
      targetClosed: false,
    };
    pairs.add(pair);
    client.on("error", () => undefined);
    client.on("data", (chunk: Buffer) => onClientData(pair, chunk));
    client.on("close", () => {
      if (pair.stalled) return; // half-open: the other side never hears of it
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    if (pair.stalled) return; // black hole: never reaches the server
    const upstream = net.connect(targetPort(), "127.0.0.1");
    pair.upstream = upstream;
    upstream.on("error", () => undefined);
    upstream.on("end", () => {
      pair.targetClosed = true;
    });
    upstream.on("data", (chunk: Buffer) => {
      if (pair.stalled) return;
      if (pair.killOnAnswer) {
        pair.killOnAnswer();
        return;
      }
      forward(pair, "down", chunk);
    });
    upstream.on("close", () => {
      pair.targetClosed = true;
      if (pair.stalled) return;
      // Let delayed bytes go out first.
      const wait = Math.max(0, pair.release.down - Date.now());
      setTimeout(() => {
        client.destroy();
        pairs.delete(pair);
      }, wait);
    });
  });
  server.on("error", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    get targetOpen() {
      let open = 0;
      for (const pair of pairs) if (pair.upstream && !pair.targetClosed) open++;
      return open;
    },
    pass() {
      stalled = false;
      delayMs = 0;
      blockWs = false;
      blockRe = null;
    },
    cutAll() {
      for (const pair of [...pairs]) destroy(pair);
    },
    stall() {
      stalled = true;
      for (const pair of pairs) pair.stalled = true;
    },
    delay(ms: number) {
      delayMs = ms;
    },
    blockWebSockets(on: boolean) {
      blockWs = on;
    },
    blockRequests(re: RegExp | null) {
      blockRe = re;
    },
    dropNext(rule: DropRule) {
      return new Promise<void>((resolve) => drops.push({ ...rule, fired: resolve }));
    },
    respondNext(rule: RespondRule) {
      return new Promise<void>((resolve) => responds.push({ ...rule, fired: resolve }));
    },
    async close() {
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
