/**
 * Circuit breaker for one mail provider, so that mail waits instead of burning attempts
 * while the provider is down.
 *
 *   closed    --threshold consecutive transient failures-->  open
 *   open      --cooldown passed, canSend() lets one probe-->  half_open
 *   half_open --probe succeeded-->                           closed
 *   half_open --probe failed (transient)-->                  open, with a new cooldown
 *
 * Pure state in memory with an injected clock: a restart starts closed.
 */

export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  /** Time the breaker last opened, in ms since the epoch, or null while closed. */
  openedAt: number | null;
  /** Earliest time canSend() may return true, or null when it returns true now. */
  retryAt: number | null;
}

export interface CircuitBreakerOptions {
  /** Consecutive transient failures that open the breaker. */
  threshold: number;
  /** Time in ms the breaker stays open before it lets a probe through. */
  cooldownMs: number;
  /**
   * Time in ms after which an unanswered probe counts as lost and another probe may
   * go. Defaults to cooldownMs. Set it above the longest send, or two probes may overlap.
   */
  probeTimeoutMs?: number;
  /** Current time in ms since the epoch. */
  now: () => number;
  onChange?: (from: BreakerState, to: BreakerState) => void;
}

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #probeTimeoutMs: number;
  readonly #now: () => number;
  readonly #onChange: ((from: BreakerState, to: BreakerState) => void) | undefined;

  #state: BreakerState = "closed";
  #consecutiveFailures = 0;
  #openedAt: number | null = null;
  /** Time the outstanding probe was let through, or null when none is outstanding. */
  #probeStartedAt: number | null = null;

  constructor(opts: CircuitBreakerOptions) {
    if (!Number.isInteger(opts.threshold) || opts.threshold < 1) {
      throw new RangeError(
        `breaker threshold must be a whole number of at least 1, got ${opts.threshold}`,
      );
    }
    if (!Number.isFinite(opts.cooldownMs) || opts.cooldownMs < 0) {
      throw new RangeError(`breaker cooldownMs must be 0 or more, got ${opts.cooldownMs}`);
    }
    this.#threshold = opts.threshold;
    this.#cooldownMs = opts.cooldownMs;
    this.#probeTimeoutMs = opts.probeTimeoutMs ?? opts.cooldownMs;
    this.#now = opts.now;
    this.#onChange = opts.onChange;
  }

  state(): BreakerState {
    return this.#state;
  }

  /**
   * Tells whether a send may start now. Moves an open breaker whose cooldown has
   * passed to half_open and lets exactly one probe through, so the caller must send
   * after a true and then report the outcome.
   */
  canSend(): boolean {
    const now = this.#now();
    if (this.#state === "closed") return true;

    if (this.#state === "open") {
      if (now < this.#cooldownEnd()) return false;
      this.#transition("half_open");
      this.#probeStartedAt = now;
      return true;
    }

    // half_open: a lost probe (its caller crashed or never reported) must not block forever.
    if (this.#probeStartedAt !== null && now < this.#probeStartedAt + this.#probeTimeoutMs) {
      return false;
    }
    this.#probeStartedAt = now;
    return true;
  }

  /** Earliest time canSend() may return true, or null when it returns true now. */
  retryAt(): number | null {
    if (this.#state === "open") return this.#cooldownEnd();
    if (this.#state === "half_open" && this.#probeStartedAt !== null) {
      return this.#probeStartedAt + this.#probeTimeoutMs;
    }
    return null;
  }

  recordSuccess(): void {
    this.#consecutiveFailures = 0;
    this.#openedAt = null;
    this.#probeStartedAt = null;
    this.#transition("closed");
  }

  /**
   * Records a permanent or config failure. It does not count toward opening, but the
   * provider responded, so a probe that gets one closes the breaker.
   */
  recordPermanentFailure(): void {
    if (this.#state === "half_open") this.recordSuccess();
  }

  recordTransientFailure(): void {
    this.#consecutiveFailures += 1;
    if (this.#state === "half_open") {
      this.#open();
      return;
    }
    if (this.#state === "closed" && this.#consecutiveFailures >= this.#threshold) {
      this.#open();
    }
    // While open, failures of sends that started before it opened keep the cooldown as is.
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.#state,
      consecutiveFailures: this.#consecutiveFailures,
      openedAt: this.#openedAt,
      retryAt: this.retryAt(),
    };
  }

  #open(): void {
    this.#openedAt = this.#now();
    this.#probeStartedAt = null;
    this.#transition("open");
  }

  #cooldownEnd(): number {
    return (this.#openedAt ?? this.#now()) + this.#cooldownMs;
  }

  #transition(to: BreakerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#onChange?.(from, to);
  }
}
