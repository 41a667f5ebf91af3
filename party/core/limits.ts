/** Tunable limits and timings. Defaults follow the contract; every one is configurable. */
export interface Limits {
  /** Largest message `body`, in bytes of UTF-8. */
  maxMessageBytes: number;
  /** Largest `meta`, in bytes of its JSON text. */
  maxMetaBytes: number;
  /** Largest HTTP body or socket frame, in bytes. */
  maxFrameBytes: number;
  /** Distinct reaction keys on one message. */
  reactionKeysPerMessage: number;
  /** Reaction keys one user may have on one message. */
  reactionKeysPerUser: number;
  /** Sends per second per user per conversation (token bucket refill). */
  sendRate: number;
  /** Token bucket size for sends. */
  sendBurst: number;
  /** Client frames per second per socket before it counts as flooding. */
  frameRate: number;
  /** Frame bucket size; a socket that empties it is closed with 4008. */
  frameBurst: number;
  /**
   * Bytes per second a user may send (socket frames and HTTP bodies): on Node across all their
   * connections, on the edge per connection. Over it a socket closes with 4008, HTTP gets 429.
   */
  inboundBytesPerSecond: number;
  /** Burst of that byte budget; at least the largest frame. */
  inboundBytesBurst: number;
  /** How long a typing indicator lasts without a new typing frame. */
  typingTtlMs: number;
  /** At most one typing broadcast per user per conversation in this window. */
  typingThrottleMs: number;
  /**
   * A room sends each listening inbox at most one `thread` frame per this window (the latest
   * state): a burst of commits costs an inbox a few frames, not one each.
   */
  inboxCoalesceMs: number;
  /** A user stays "online" this long after their last connection closed. */
  presenceGraceMs: number;
  /**
   * Presence changes are gathered this long and sent as one `{ joined, left }` frame (the
   * contract allows at most 250 ms).
   */
  presenceWindowMs: number;
  /**
   * How long a socket the relay closed may take to answer the close handshake before it is
   * cut (a client that stopped reading finds the close frame behind what it did not read).
   */
  closeTimeoutMs: number;
  /** Interval of server pings; a socket that misses one is dead. */
  heartbeatMs: number;
  /** Recent messages each room keeps in memory for fast resume and history. */
  bufferSize: number;
  /** Messages per page when replaying from storage. */
  pageSize: number;
  /**
   * Bytes (bodies and meta) in one page of history or replay: a page is cut short at this
   * size, and `hasMore` tells the client to ask again. Bounds what one request can pin.
   */
  pageBytes: number;
  /** Outbound bytes a socket may have queued before it is closed with 4008. */
  socketBufferBytes: number;
  /**
   * Answers to reads (history, long-polls, the thread list) one user may have on their way at
   * once; over it, 429. With `pageBytes`, bounds what a client that never reads can pin.
   */
  maxReadsPerUser: number;
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
  /** A webhook delivery (or a pre-send hook call) that has not answered by then has failed. */
  webhookTimeoutMs: number;
  /** First wait after a failed delivery; it doubles per failure (with jitter) up to `webhookRetryMaxMs`. */
  webhookRetryBaseMs: number;
  /** Longest wait between two attempts of one delivery (a `Retry-After` may ask for up to an hour). */
  webhookRetryMaxMs: number;
  /** An endpoint failing for this long is marked `failing` and paused (until `resume`). */
  webhookRetryWindowMs: number;
  /** Deliveries on their way at once, over all endpoints and conversations (one host). */
  webhookConcurrency: number;
  /** How often the host looks in the store for deliveries no commit woke (after a restart, say). */
  webhookScanMs: number;
  /** How long a send waits for the app's pre-send hook. */
  hookTimeoutMs: number;
}

export const defaultLimits: Limits = {
  maxMessageBytes: 16 * 1024,
  maxMetaBytes: 8 * 1024,
  maxFrameBytes: 64 * 1024,
  reactionKeysPerMessage: 20,
  reactionKeysPerUser: 10,
  sendRate: 20,
  sendBurst: 40,
  frameRate: 50,
  frameBurst: 200,
  // Above a user sending 20 messages/s of 16 KiB; far below what parsing costs at 100% CPU.
  inboundBytesPerSecond: 512 * 1024,
  inboundBytesBurst: 2 * 1024 * 1024,
  typingTtlMs: 6_000,
  typingThrottleMs: 2_000,
  inboxCoalesceMs: 100,
  presenceGraceMs: 5_000,
  presenceWindowMs: 100,
  closeTimeoutMs: 5_000,
  heartbeatMs: 25_000,
  bufferSize: 1_000,
  pageSize: 500,
  pageBytes: 1024 * 1024,
  socketBufferBytes: 1024 * 1024,
  maxReadsPerUser: 8,
  maxWaitSeconds: 30,
  roomIdleMs: 60_000,
  // One socket per open conversation plus the inbox, over several tabs and devices.
  maxConnectionsPerUser: 100,
  handshakeTimeoutMs: 10_000,
  sseKeepAliveMs: 15_000,
  webhookTimeoutMs: 10_000,
  webhookRetryBaseMs: 1_000,
  webhookRetryMaxMs: 10 * 60_000,
  webhookRetryWindowMs: 24 * 60 * 60_000,
  webhookConcurrency: 16,
  webhookScanMs: 30_000,
  hookTimeoutMs: 2_000,
};

/** The environment variable of each limit (README's configuration table). */
export const limitEnv: Record<keyof Limits, string> = {
  maxMessageBytes: "PARLEY_MAX_MESSAGE_BYTES",
  maxMetaBytes: "PARLEY_MAX_META_BYTES",
  maxFrameBytes: "PARLEY_MAX_FRAME_BYTES",
  reactionKeysPerMessage: "PARLEY_REACTION_KEYS_PER_MESSAGE",
  reactionKeysPerUser: "PARLEY_REACTION_KEYS_PER_USER",
  sendRate: "PARLEY_SEND_RATE",
  sendBurst: "PARLEY_SEND_BURST",
  frameRate: "PARLEY_FRAME_RATE",
  frameBurst: "PARLEY_FRAME_BURST",
  inboundBytesPerSecond: "PARLEY_INBOUND_BYTES_PER_SECOND",
  inboundBytesBurst: "PARLEY_INBOUND_BYTES_BURST",
  typingTtlMs: "PARLEY_TYPING_TTL_MS",
  typingThrottleMs: "PARLEY_TYPING_THROTTLE_MS",
  inboxCoalesceMs: "PARLEY_INBOX_COALESCE_MS",
  presenceGraceMs: "PARLEY_PRESENCE_GRACE_MS",
  presenceWindowMs: "PARLEY_PRESENCE_WINDOW_MS",
  closeTimeoutMs: "PARLEY_CLOSE_TIMEOUT_MS",
  heartbeatMs: "PARLEY_HEARTBEAT_MS",
  bufferSize: "PARLEY_BUFFER_SIZE",
  pageSize: "PARLEY_PAGE_SIZE",
  pageBytes: "PARLEY_PAGE_BYTES",
  socketBufferBytes: "PARLEY_SOCKET_BUFFER_BYTES",
  maxReadsPerUser: "PARLEY_MAX_READS_PER_USER",
  maxWaitSeconds: "PARLEY_MAX_WAIT_SECONDS",
  roomIdleMs: "PARLEY_ROOM_IDLE_MS",
  maxConnectionsPerUser: "PARLEY_MAX_CONNECTIONS_PER_USER",
  handshakeTimeoutMs: "PARLEY_HANDSHAKE_TIMEOUT_MS",
  sseKeepAliveMs: "PARLEY_SSE_KEEPALIVE_MS",
  webhookTimeoutMs: "PARLEY_WEBHOOK_TIMEOUT_MS",
  webhookRetryBaseMs: "PARLEY_WEBHOOK_RETRY_BASE_MS",
  webhookRetryMaxMs: "PARLEY_WEBHOOK_RETRY_MAX_MS",
  webhookRetryWindowMs: "PARLEY_WEBHOOK_RETRY_WINDOW_MS",
  webhookConcurrency: "PARLEY_WEBHOOK_CONCURRENCY",
  webhookScanMs: "PARLEY_WEBHOOK_SCAN_MS",
  hookTimeoutMs: "PARLEY_HOOK_TIMEOUT_MS",
};

/**
 * A number as an operator writes one in a variable: digits, with an optional decimal point
 * (`5`, `0.5`, `1500`); anything else (`0x10`, `1e3`, `" 5 "`, `+5`, `Infinity`) is NaN.
 * `Number()` alone takes all of those, so a typo could start a relay with a limit nobody meant.
 */
export function decimalNumber(raw: string): number {
  return /^(?:\d+(?:\.\d+)?|\.\d+)$/.test(raw) ? Number(raw) : Number.NaN;
}

/**
 * A positive number written as `decimalNumber` takes it; else `invalid` gets the sentence that
 * says so, and makes the adapter's own configuration error of it.
 */
export function positiveDecimal(name: string, raw: string, invalid: (sentence: string) => Error): number {
  const n = decimalNumber(raw);
  if (!Number.isFinite(n) || n <= 0) throw invalid(`${name} must be a positive number, got "${raw}"`);
  return n;
}

/**
 * The limits set in an environment (only those present), each a positive decimal number;
 * `invalid` makes the adapter's configuration error of the sentence naming a bad one.
 */
export function limitsFromEnv(
  env: Record<string, string | undefined>,
  invalid: (sentence: string) => Error,
): Partial<Limits> {
  const limits: Partial<Limits> = {};
  for (const [key, name] of Object.entries(limitEnv) as Array<[keyof Limits, string]>) {
    const raw = env[name];
    if (raw !== undefined && raw !== "") limits[key] = positiveDecimal(name, raw, invalid);
  }
  return limits;
}

/** The contract's longest presence window. */
const MAX_PRESENCE_WINDOW_MS = 250;

/** Limits that count things or bytes: a fraction of one means nothing. */
const WHOLE_NUMBERS: ReadonlyArray<keyof Limits> = [
  "maxMessageBytes",
  "maxMetaBytes",
  "maxFrameBytes",
  "reactionKeysPerMessage",
  "reactionKeysPerUser",
  "inboundBytesPerSecond",
  "inboundBytesBurst",
  "bufferSize",
  "pageSize",
  "pageBytes",
  "socketBufferBytes",
  "maxReadsPerUser",
  "maxConnectionsPerUser",
  "webhookConcurrency",
];

/** The longest timer JavaScript runs as asked (2^31 - 1 ms, ~24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A combination of limits that cannot work, as one sentence naming the variables; else undefined. */
export function inconsistentLimits(limits: Limits): string | undefined {
  for (const key of WHOLE_NUMBERS)
    if (!Number.isInteger(limits[key])) return `${limitEnv[key]} must be a whole number, got ${limits[key]}`;
  for (const key of Object.keys(limitEnv) as Array<keyof Limits>) {
    const msPerUnit = key === "maxWaitSeconds" ? 1000 : key.endsWith("Ms") ? 1 : 0;
    if (limits[key] * msPerUnit > MAX_TIMER_MS)
      return `${limitEnv[key]} (${limits[key]}) is longer than a timer can wait (${Math.floor(MAX_TIMER_MS / msPerUnit)})`;
  }
  // A bucket that never holds one whole token refuses everything, forever.
  for (const key of ["sendBurst", "frameBurst"] as const)
    if (limits[key] < 1)
      return `${limitEnv[key]} (${limits[key]}) must be at least 1: a burst below one would refuse every ${key === "sendBurst" ? "send" : "frame"}`;
  if (limits.webhookRetryBaseMs > limits.webhookRetryMaxMs)
    return `${limitEnv.webhookRetryBaseMs} (${limits.webhookRetryBaseMs}) must not exceed ${limitEnv.webhookRetryMaxMs} (${limits.webhookRetryMaxMs})`;
  if (limits.inboundBytesBurst < limits.maxFrameBytes)
    return `${limitEnv.inboundBytesBurst} (${limits.inboundBytesBurst}) must be at least ${limitEnv.maxFrameBytes} (${limits.maxFrameBytes}): a frame of the largest size could never be accepted`;
  if (limits.maxMessageBytes > limits.maxFrameBytes)
    return `${limitEnv.maxMessageBytes} (${limits.maxMessageBytes}) must not exceed ${limitEnv.maxFrameBytes} (${limits.maxFrameBytes})`;
  if (limits.presenceWindowMs > MAX_PRESENCE_WINDOW_MS)
    return `${limitEnv.presenceWindowMs} (${limits.presenceWindowMs}) must be at most ${MAX_PRESENCE_WINDOW_MS}: the contract sends presence changes within 250 ms`;
  return undefined;
}
