/** Tunable limits and timings. Defaults follow the contract; every one is configurable. */
export interface Limits {
  /** Largest message `body`, in bytes of UTF-8. */
  maxMessageBytes: number;
  /** Largest HTTP body or socket frame, in bytes. */
  maxFrameBytes: number;
  /** Sends per second per user per conversation (token bucket refill). */
  sendRate: number;
  /** Token bucket size for sends. */
  sendBurst: number;
  /** Client frames per second per socket before it counts as flooding. */
  frameRate: number;
  /** Frame bucket size; a socket that empties it is closed with 4008. */
  frameBurst: number;
  /** How long a typing indicator lasts without a new typing frame. */
  typingTtlMs: number;
  /** At most one typing broadcast per user per conversation in this window. */
  typingThrottleMs: number;
  /** A user stays "online" this long after their last connection closed. */
  presenceGraceMs: number;
  /** Interval of server pings; a socket that misses one is dead. */
  heartbeatMs: number;
  /** Recent messages each room keeps in memory for fast resume and history. */
  bufferSize: number;
  /** Messages per page when replaying from storage. */
  pageSize: number;
  /** Outbound bytes a socket may have queued before it is closed with 4008. */
  socketBufferBytes: number;
  /** Longest long-poll `wait`, in seconds. */
  maxWaitSeconds: number;
  /** A room with no clients is dropped from memory after this long. */
  roomIdleMs: number;
  /** Open sockets and SSE streams per user (all conversations and the inbox); over it: 4008. */
  maxConnectionsPerUser: number;
  /** A TCP connection must complete its HTTP request headers (or upgrade) within this. */
  handshakeTimeoutMs: number;
  /** Interval of SSE comment lines: keeps proxies from idling the stream out, lets clients see a stall. */
  sseKeepAliveMs: number;
}

export const defaultLimits: Limits = {
  maxMessageBytes: 16 * 1024,
  maxFrameBytes: 64 * 1024,
  sendRate: 20,
  sendBurst: 40,
  frameRate: 50,
  frameBurst: 200,
  typingTtlMs: 6_000,
  typingThrottleMs: 2_000,
  presenceGraceMs: 5_000,
  heartbeatMs: 25_000,
  bufferSize: 1_000,
  pageSize: 500,
  socketBufferBytes: 1024 * 1024,
  maxWaitSeconds: 30,
  roomIdleMs: 60_000,
  // One socket per open conversation plus the inbox, over several tabs and devices.
  maxConnectionsPerUser: 100,
  handshakeTimeoutMs: 10_000,
  sseKeepAliveMs: 15_000,
};

/** The environment variable of each limit (README's configuration table). */
export const limitEnv: Record<keyof Limits, string> = {
  maxMessageBytes: "PARLEY_MAX_MESSAGE_BYTES",
  maxFrameBytes: "PARLEY_MAX_FRAME_BYTES",
  sendRate: "PARLEY_SEND_RATE",
  sendBurst: "PARLEY_SEND_BURST",
  frameRate: "PARLEY_FRAME_RATE",
  frameBurst: "PARLEY_FRAME_BURST",
  typingTtlMs: "PARLEY_TYPING_TTL_MS",
  typingThrottleMs: "PARLEY_TYPING_THROTTLE_MS",
  presenceGraceMs: "PARLEY_PRESENCE_GRACE_MS",
  heartbeatMs: "PARLEY_HEARTBEAT_MS",
  bufferSize: "PARLEY_BUFFER_SIZE",
  pageSize: "PARLEY_PAGE_SIZE",
  socketBufferBytes: "PARLEY_SOCKET_BUFFER_BYTES",
  maxWaitSeconds: "PARLEY_MAX_WAIT_SECONDS",
  roomIdleMs: "PARLEY_ROOM_IDLE_MS",
  maxConnectionsPerUser: "PARLEY_MAX_CONNECTIONS_PER_USER",
  handshakeTimeoutMs: "PARLEY_HANDSHAKE_TIMEOUT_MS",
  sseKeepAliveMs: "PARLEY_SSE_KEEPALIVE_MS",
};

/**
 * The limits set in an environment (only those present). `parse` turns a raw value into a
 * number or throws the adapter's own configuration error.
 */
export function limitsFromEnv(
  env: Record<string, string | undefined>,
  parse: (name: string, raw: string) => number,
): Partial<Limits> {
  const limits: Partial<Limits> = {};
  for (const [key, name] of Object.entries(limitEnv) as Array<[keyof Limits, string]>) {
    const raw = env[name];
    if (raw !== undefined && raw !== "") limits[key] = parse(name, raw);
  }
  return limits;
}
