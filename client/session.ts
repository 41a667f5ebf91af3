/**
 * What a conversation and the inbox share: the state machine, the one `disconnect()` every
 * disconnect goes through, the reconnect loop (jittered backoff, `Retry-After`, token refresh
 * on 4001), the close-code policy, waking on `online`/visible, and swapping in a new transport
 * without a gap (the `auto` upgrade).
 */
import { type BackoffOptions, backoffDelay, Wait } from "./backoff.ts";
import { Emitter } from "./emitter.ts";
import { ParleyClientError } from "./errors.ts";
import { closeAction, Reason } from "./reasons.ts";
import { canTransition, State, type StateChange } from "./state.ts";
import type { TokenSource } from "./token.ts";
import type { Transport, TransportClose, TransportHandlers } from "./transports/transport.ts";
import type { ServerFrame } from "./types.ts";
import { subscribeWake, type WakeTargets } from "./wake.ts";

/** Events every session emits. */
export interface SessionEvents {
  /** Every state change, with why. */
  state: StateChange;
  /** A refusal or failure worth showing; a fatal one is followed by `state` → closed. */
  error: ParleyClientError;
}

export interface SessionOptions {
  tokens: TokenSource;
  reconnectDelay: BackoffOptions;
  wake: WakeTargets;
}

/** Most 4001s in a row (each after a fresh token) before giving up. */
const MAX_UNAUTHORIZED_IN_ROW = 3;

export interface DisconnectOptions {
  /** Try again (after a backoff), or stop for good. */
  reconnect: boolean;
  /** Stop with this error (emitted as `error`, and `ready()` rejects with it). */
  error?: ParleyClientError;
  /** The server asked to wait at least this long. */
  retryAfterMs?: number;
  /** Skip the backoff (an explicit reconnect, a fresh token). */
  immediate?: boolean;
}

const ERROR_CODE_BY_REASON: Partial<Record<Reason, string>> = {
  [Reason.Forbidden]: "forbidden",
  [Reason.NotFound]: "not_found",
  [Reason.Unauthorized]: "unauthorized",
};

export abstract class Session<E extends SessionEvents> extends Emitter<E> {
  #state: State = State.Connecting;
  #attempt = 0;
  #unauthorizedInRow = 0;
  /** The token a 4001 refused: the next attempt asks for a new one. */
  #refusedToken: string | undefined;
  #wait = new Wait();
  #generation = 0;
  #closeError: ParleyClientError | undefined;
  #waiters: Array<{ resolve: () => void; reject: (e: ParleyClientError) => void }> = [];
  #unsubscribeWake: () => void;
  #transport: Transport | undefined;
  #candidate: Transport | undefined;
  #reachedLive = false;
  /**
   * Why the next connection is made, when not just because the last one ended: a wait cut
   * short by `online` or a visible tab, or a fallback. Its `syncing` says so (not
   * `transport_open`); any disconnect forgets it.
   */
  #why: Reason | undefined;

  readonly #options: SessionOptions;

  protected constructor(sessionOptions: SessionOptions) {
    super();
    this.#options = sessionOptions;
    this.#unsubscribeWake = subscribeWake(sessionOptions.wake, (reason) => this.#wake(reason));
  }

  /** The current state. */
  get state(): State {
    return this.#state;
  }

  /** The transport in use (undefined while reconnecting). */
  protected get transport(): Transport | undefined {
    return this.#transport;
  }

  /** Resolves when the session is live (now, or next); rejects if it closes first. */
  ready(): Promise<void> {
    if (this.#state === State.Live) return Promise.resolve();
    if (this.#state === State.Closed) {
      return Promise.reject(this.#closeError ?? new ParleyClientError("closed", "closed"));
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Drops the connection and connects again at once. */
  reconnect(): void {
    this.disconnect(Reason.ReconnectRequested, { reconnect: true, immediate: true });
  }

  /** Closes for good. */
  close(): void {
    this.disconnect(Reason.ClosedByClient, { reconnect: false });
  }

  // ---- for subclasses ----------------------------------------------------------------------

  /** Opens one connection with `token`. */
  protected abstract openTransport(token: string, handlers: TransportHandlers): Transport;
  /** A transport (new, or an adopted candidate) opened: the replay follows. */
  protected abstract onTransportOpen(transport: Transport): void;
  protected abstract onFrame(frame: ServerFrame, transport: Transport): void;
  /**
   * Runs before each attempt (a conversation picks its transport kind here); a reason it
   * returns is the one the attempt's `syncing` gives (`transport_fallback`).
   */
  protected async beforeConnect(): Promise<Reason | undefined> {
    return undefined;
  }
  /** The current transport ended; `reachedLive` tells whether it ever got live. */
  protected onTransportEnd(_info: TransportClose, _reachedLive: boolean): void {}
  /** A candidate transport failed before opening. */
  protected onCandidateFailed(_info: TransportClose): void {}
  /** Per-connection state must go (pending acks, timers). */
  protected onDisconnected(): void {}
  /** The session closed for good. */
  protected onClosed(): void {}

  /** Starts the first attempt; subclasses call it at the end of their constructor. */
  protected start(): void {
    void this.#attemptConnect(this.#generation);
  }

  /** The catch-up is done. */
  protected markLive(reason: Reason): void {
    this.#reachedLive = true;
    this.#attempt = 0;
    this.#unauthorizedInRow = 0;
    this.setState(State.Live, reason);
  }

  /** Changes state and emits `{ oldState, newState, reason }`; the only place state changes. */
  protected setState(newState: State, reason: Reason): void {
    const oldState = this.#state;
    if (oldState === newState || !canTransition(oldState, newState)) return;
    this.#state = newState;
    (this as unknown as Emitter<SessionEvents>).emit("state", { oldState, newState, reason });
    if (newState === State.Live) {
      for (const w of this.#waiters.splice(0)) w.resolve();
    } else if (newState === State.Closed) {
      const error = this.#closeError ?? new ParleyClientError("closed", `closed: ${reason}`);
      for (const w of this.#waiters.splice(0)) w.reject(error);
    }
  }

  /** Reports a non-fatal error. */
  protected reportError(error: ParleyClientError): void {
    (this as unknown as Emitter<SessionEvents>).emit("error", error);
  }

  /**
   * Every disconnect goes through here: the transport is dropped, then either a reconnect is
   * scheduled (state `reconnecting`) or the session stops (state `closed`).
   */
  protected disconnect(reason: Reason, opts: DisconnectOptions): void {
    if (this.#state === State.Closed) return;
    this.#generation++;
    this.#why = undefined;
    const transport = this.#transport;
    this.#transport = undefined;
    transport?.close();
    this.onDisconnected();
    if (!opts.reconnect) {
      this.#candidate?.close();
      this.#candidate = undefined;
      this.#wait.cancel();
      this.#unsubscribeWake();
      this.#closeError = opts.error;
      this.onClosed();
      // The reason first, then the state: a listener of `state` → closed can already know why.
      if (opts.error) this.reportError(opts.error);
      this.setState(State.Closed, reason);
      return;
    }
    this.setState(State.Reconnecting, reason);
    if (this.#candidate) return; // the candidate is the next attempt
    const delay = opts.immediate
      ? 0
      : backoffDelay(this.#attempt++, this.#options.reconnectDelay, opts.retryAfterMs);
    const generation = this.#generation;
    void this.#wait.for(delay).then(() => {
      if (generation === this.#generation) void this.#attemptConnect(generation);
    });
  }

  /**
   * Starts a second transport beside the current one; when it opens it replaces the current
   * one (the sequencer drops whatever both deliver). Used to upgrade back to WebSocket.
   */
  protected startCandidate(token: string, open: (handlers: TransportHandlers) => Transport): void {
    if (this.#candidate || this.#state === State.Closed) return;
    this.#candidate = this.#open(open, token);
  }

  protected get hasCandidate(): boolean {
    return this.#candidate !== undefined;
  }

  // ---- internals ---------------------------------------------------------------------------

  async #attemptConnect(generation: number): Promise<void> {
    let token: string;
    try {
      this.#why = (await this.beforeConnect()) ?? this.#why;
      const refused = this.#refusedToken;
      this.#refusedToken = undefined;
      token =
        refused !== undefined
          ? await this.#options.tokens.refresh(refused)
          : await this.#options.tokens.get();
    } catch (error) {
      if (generation !== this.#generation || this.#state === State.Closed) return;
      this.reportError(
        new ParleyClientError("unauthorized", `could not get a token: ${String(error)}`, { cause: error }),
      );
      this.disconnect(Reason.TransportClosed, { reconnect: true });
      return;
    }
    if (generation !== this.#generation || this.#state === State.Closed) return;
    this.#reachedLive = false;
    try {
      this.#transport = this.#open((handlers) => this.openTransport(token, handlers), token);
    } catch (error) {
      this.reportError(
        new ParleyClientError("config", `could not open a connection: ${String(error)}`, { cause: error }),
      );
      this.disconnect(Reason.TransportClosed, { reconnect: true });
    }
  }

  /** Wires a transport's handlers to this session; `token` is the one it connected with. */
  #open(open: (handlers: TransportHandlers) => Transport, token: string): Transport {
    const ref: { t?: Transport } = {};
    const transport = open({
      onOpen: () => ref.t && this.#handleOpen(ref.t),
      onFrame: (frame) => {
        if (ref.t && ref.t === this.#transport) this.onFrame(frame, ref.t);
      },
      onClose: (info) => ref.t && this.#handleClose(ref.t, info, token),
    });
    ref.t = transport;
    return transport;
  }

  #handleOpen(t: Transport): void {
    if (t === this.#candidate) {
      this.#candidate = undefined;
      const old = this.#transport;
      this.#transport = t;
      old?.close();
      this.#reachedLive = false;
      this.setState(State.Syncing, Reason.TransportUpgrade);
      this.onTransportOpen(t);
      return;
    }
    if (t !== this.#transport) return;
    this.setState(State.Syncing, this.#why ?? Reason.TransportOpen);
    this.onTransportOpen(t);
  }

  #handleClose(t: Transport, info: TransportClose, token: string): void {
    if (t === this.#candidate) {
      this.#candidate = undefined;
      this.onCandidateFailed(info);
      // The current transport may have gone meanwhile (replaced by this very candidate).
      if (!this.#transport && this.#state !== State.Closed) {
        this.disconnect(Reason.TransportClosed, { reconnect: true });
      }
      return;
    }
    if (t !== this.#transport) return;
    this.onTransportEnd(info, this.#reachedLive);
    if (this.#candidate) {
      // Most likely 4009 from our own candidate (same `_pk`): let the candidate take over.
      this.disconnect(Reason.TransportUpgrade, { reconnect: true });
      return;
    }
    if (info.heartbeatTimeout) {
      this.disconnect(Reason.HeartbeatTimeout, { reconnect: true });
      return;
    }
    const action = closeAction(info.code);
    const retry: DisconnectOptions = { reconnect: true };
    if (info.retryAfterMs !== undefined) retry.retryAfterMs = info.retryAfterMs;
    switch (action.kind) {
      case "reconnect":
        this.disconnect(action.reason, retry);
        return;
      case "refresh_token": {
        this.#unauthorizedInRow++;
        if (!this.#options.tokens.refreshable || this.#unauthorizedInRow > MAX_UNAUTHORIZED_IN_ROW) {
          this.disconnect(Reason.Unauthorized, {
            reconnect: false,
            error: new ParleyClientError("unauthorized", info.reason || "the token was refused", {
              closeCode: info.code,
              ...(info.status !== undefined ? { status: info.status } : {}),
            }),
          });
          return;
        }
        this.#refusedToken = token;
        this.disconnect(action.reason, { reconnect: true, immediate: this.#unauthorizedInRow === 1 });
        return;
      }
      case "stop": {
        const opts: DisconnectOptions = { reconnect: false };
        if (action.error) {
          opts.error = new ParleyClientError(
            ERROR_CODE_BY_REASON[action.reason] ?? action.reason,
            info.reason || action.reason,
            { closeCode: info.code, ...(info.status !== undefined ? { status: info.status } : {}) },
          );
        }
        this.disconnect(action.reason, opts);
        return;
      }
    }
  }

  /**
   * `online` or a visible tab: retry now if waiting (that connection's `syncing` gives `reason`),
   * check the connection if live.
   */
  #wake(reason: Reason): void {
    if (this.#state === State.Reconnecting && this.#wait.waiting) {
      this.#attempt = 0;
      this.#why = reason;
      this.#wait.wake();
    } else if (this.#state === State.Live) {
      this.#transport?.probe();
    }
  }
}
