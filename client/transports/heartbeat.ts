/**
 * Our own liveness check over a socket. Browsers cannot see protocol-level pings, and a
 * half-open TCP connection (a NAT that forgot us, a laptop that slept) can look open for
 * minutes. So: after `intervalMs` of silence send `{type:"ping"}`; if nothing at all arrives
 * within `timeoutMs`, the connection is dead. Any frame counts as a sign of life. One timer,
 * set for the moment the silence reaches `intervalMs` (not a tick that checks now and then):
 * a dead connection is found at most `intervalMs + timeoutMs` after its last frame.
 */
export class Heartbeat {
  #lastSeen = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
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
    this.#check();
  }

  /**
   * Pings when the silence has reached the interval; then looks again when it would next
   * reach it (frames that arrived meanwhile move that moment: a frame costs no timer).
   */
  #check(): void {
    const wait = this.#intervalMs - this.idleMs();
    if (wait <= 0) this.probe();
    this.#timer = setTimeout(() => this.#check(), wait > 0 ? wait : Math.max(10, this.#intervalMs));
  }

  /** Sends a ping now and expects life within the timeout. */
  probe(): void {
    if (this.#timer === undefined || this.#deadline !== undefined) return;
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
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
    this.#timer = undefined;
    this.#deadline = undefined;
  }
}
