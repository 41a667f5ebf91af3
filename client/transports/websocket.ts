/**
 * The WebSocket transport, on partysocket's socket (`partysocket/ws`, the class `PartySocket`
 * extends): it applies the connect timeout and takes any WebSocket class (`ws` in Node, the
 * global one in browsers and Deno). The URL is PartySocket's, built here:
 * `/parties/<party>/<room>?_pk=<instance id>&<query>` (PartySocket's own URL helpers, `fetch`
 * and property updates are not needed, and cost the widget about 1 KB gzipped). Its reconnect
 * loop is switched off (`maxRetries: 0`): one socket is one connection attempt, and the session
 * decides when and how to try again, with the same policy as SSE and long-poll.
 */
import ReconnectingWebSocket from "partysocket/ws";
import { parseServerFrame } from "../frames.ts";
import { CloseCode } from "../reasons.ts";
import type { ClientFrame } from "../types.ts";
import { Heartbeat } from "./heartbeat.ts";
import { type Transport, TransportBase, type TransportHandlers, type TransportTimings } from "./transport.ts";

export interface WebSocketTarget {
  /** The relay's base URL (`http(s)://host[:port][/prefix]`). */
  baseUrl: string;
  party: "conversation" | "inbox";
  room: string;
  query: Record<string, string | undefined>;
  /** `_pk`: one id per client instance (a newer socket with it replaces an older one: 4009). */
  instanceId: string;
  /** A WebSocket class; defaults to the global one. */
  WebSocket?: unknown;
}

const OPEN = 1;

export class WebSocketTransport extends TransportBase implements Transport {
  readonly kind = "websocket";
  readonly canSend = true;
  #socket: ReconnectingWebSocket;
  #heartbeat: Heartbeat;

  constructor(target: WebSocketTarget, timings: TransportTimings, handlers: TransportHandlers) {
    super(handlers);
    const url = new URL(target.baseUrl);
    const prefix = url.pathname.replace(/^\/+|\/+$/g, "");
    this.#heartbeat = new Heartbeat(
      timings.heartbeatMs,
      timings.pongTimeoutMs,
      () => this.send({ type: "ping" }),
      () => this.finish({ code: CloseCode.abnormal, reason: "heartbeat timeout", heartbeatTimeout: true }),
    );
    const query = new URLSearchParams({ _pk: target.instanceId });
    for (const [k, v] of Object.entries(target.query)) if (v !== undefined) query.set(k, v);
    const path = `${prefix ? `${prefix}/` : ""}parties/${target.party}/${target.room}`;
    this.#socket = new ReconnectingWebSocket(
      `${url.protocol === "https:" ? "wss" : "ws"}://${url.host}/${path}?${query}`,
      undefined,
      {
        ...(target.WebSocket ? { WebSocket: target.WebSocket } : {}),
        maxRetries: 0,
        maxEnqueuedMessages: 0,
        connectionTimeout: timings.connectTimeoutMs,
      },
    );
    this.#socket.addEventListener("open", () => {
      if (this.done) return;
      this.opened = true;
      this.#heartbeat.start();
      this.handlers.onOpen();
    });
    this.#socket.addEventListener("message", (event: MessageEvent) => {
      if (this.done) return;
      this.#heartbeat.alive();
      if (typeof event.data !== "string") return;
      const frame = parseServerFrame(event.data);
      if (frame && frame.type !== "pong") this.handlers.onFrame(frame);
    });
    this.#socket.addEventListener("close", (event) => {
      // Before `open`, partysocket reports failures as a synthetic close (often 1000): it is a
      // failed attempt whatever the code says.
      this.finish(
        this.opened
          ? { code: event.code, reason: event.reason }
          : { code: CloseCode.abnormal, reason: event.reason || "could not connect" },
      );
    });
    this.#socket.addEventListener("error", () => {
      // A close event always follows (or preceded) it; nothing to do here.
    });
  }

  send(frame: ClientFrame): boolean {
    if (this.done || this.#socket.readyState !== OPEN) return false;
    return this.#socket.send(JSON.stringify(frame));
  }

  probe(): void {
    this.#heartbeat.probe();
  }

  idleMs(): number {
    return this.#heartbeat.idleMs();
  }

  protected override stop(): void {
    this.#heartbeat.stop();
    try {
      this.#socket.close(CloseCode.normal, "client closed");
    } catch {
      // already closed
    }
  }
}
