/**
 * Exponential backoff with full jitter: the delay before retry `attempt` is drawn
 * uniformly from [0, min(cap, base * 2^attempt)). Pure, so the caller passes the
 * random source and tests can pin it.
 */

export interface BackoffPolicy {
  /** Upper bound of the first retry's delay, in ms. */
  baseMs: number;
  /** Upper bound of any retry's delay, in ms. */
  capMs: number;
  /** Attempts allowed in total, the first one included. */
  maxAttempts: number;
}

/**
 * Largest exponent used. 2 ** 1024 is Infinity, and 0 * Infinity is NaN, so a zero
 * base with a huge attempt number would otherwise yield NaN.
 */
const MAX_EXPONENT = 1023;

/** Returns the upper bound of the delay before retry `attempt`, in ms. */
export function backoffCeiling(attempt: number, policy: BackoffPolicy): number {
  // A negative or fractional attempt is a caller bug, but it must still give a finite delay.
  const whole = Number.isFinite(attempt) ? Math.max(0, Math.floor(attempt)) : 0;
  const exponent = Math.min(whole, MAX_EXPONENT);
  return Math.max(0, Math.min(policy.capMs, policy.baseMs * 2 ** exponent));
}

/**
 * Returns the delay in ms before retry `attempt`, counting from 0 for the first retry.
 * `random` must return a number in [0, 1), like Math.random. A value outside that
 * range counts as 0, so a broken source can't stretch the delay past the cap.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const fraction = random();
  const safeFraction = fraction >= 0 && fraction < 1 ? fraction : 0;
  return Math.floor(safeFraction * backoffCeiling(attempt, policy));
}

/**
 * Returns the delay in ms before retry `attempt`. A provider's Retry-After, in ms,
 * wins when it requests a longer wait than the backoff.
 */
export function retryDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number,
  retryAfterMs?: number,
): number {
  const delay = backoffDelay(attempt, policy, random);
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
    return delay;
  }
  return Math.max(delay, Math.ceil(retryAfterMs));
}
