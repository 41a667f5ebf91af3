/**
 * Our own liveness check over a socket. Browsers cannot see protocol-level pings, and a
 * half-open TCP connection (a NAT that forgot us, a laptop that slept) can look open for
 * minutes. So: after `intervalMs` of silence send `{type:"ping"}`; if nothing at all arrives
 * within `timeoutMs`, the connection is dead. Any frame counts as a sign of life.
 */
export class Heartbeat {
  #lastSeen = Date.now();
  #interval: ReturnType<typeof setInterval> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #ping: () => void;
  readonly #onDead: () => void;

  constructor(intervalMs: number, timeoutMs: number, ping: () => void, onDead: () => void) {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#ping = ping;
    this.#onDead = onDead;
  }

  start(): void {
    this.stop();
    this.#lastSeen = Date.now();
    // Tick at half the interval so a ping goes out within 1.5 × interval of the last frame.
    const tick = Math.max(10, Math.floor(this.#intervalMs / 2));
    this.#interval = setInterval(() => {
      if (this.#deadline === undefined && Date.now() - this.#lastSeen >= this.#intervalMs) this.probe();
    }, tick);
  }

  /** Sends a ping now and expects life within the timeout. */
  probe(): void {
    if (this.#interval === undefined || this.#deadline !== undefined) return;
    const sentAt = Date.now();
    this.#ping();
    this.#deadline = setTimeout(() => {
      this.#deadline = undefined;
      if (this.#lastSeen < sentAt) this.#onDead();
    }, this.#timeoutMs);
  }

  /** Something arrived. */
  alive(): void {
    this.#lastSeen = Date.now();
    if (this.#deadline !== undefined) {
      clearTimeout(this.#deadline);
      this.#deadline = undefined;
    }
  }

  idleMs(): number {
    return Date.now() - this.#lastSeen;
  }

  stop(): void {
    clearInterval(this.#interval);
    clearTimeout(this.#deadline);
    this.#interval = undefined;
    this.#deadline = undefined;
  }
}
