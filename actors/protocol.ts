/**
 * The actions a machine requests from the durable runtime. Machines are pure:
 * their action implementations are empty, and the runtime reads the action
 * list that `transition()` returns and performs each one after deciding it
 * inside the same transaction as the new snapshot.
 */

import { retryDelay, type BackoffPolicy } from "../src/retry/backoff.ts";

/** Sends an event to another actor through the inbox. */
export interface SendParams {
  to: string;
  event: { type: string } & Record<string, unknown>;
}

/** Creates a new actor of a registered kind. */
export interface SpawnParams {
  kind: string;
  id: string;
  input: Record<string, unknown>;
}

/** A failure as the machines see it, already classified by the effect. */
export interface Failure {
  class: "transient" | "permanent" | "config" | "cancelled";
  message: string;
  code?: string;
  replyCode?: number;
  retryAfterMs?: number;
}

/**
 * Fields the runtime adds to every event it delivers: the time it was
 * delivered and a random number in [0, 1) for jitter, so that transitions stay
 * pure and replayable.
 */
export interface Delivered {
  at: number;
  jitter: number;
}

/** Fields the runtime adds to an effect's result event. */
export interface EffectResult extends Delivered {
  /** Earlier claims of the same effect whose lease expired before they finished. */
  lostClaims: number;
}

/**
 * Computes the backoff wait after a failure and when it ends. `attemptsSpent`
 * already counts the failure, so the first retry waits at most the base delay.
 */
export function retryTiming(
  attemptsSpent: number,
  policy: BackoffPolicy,
  failed: Delivered & { failure: Failure },
): { retryDelayMs: number; nextAttemptAt: number } {
  const delay = retryDelay(
    attemptsSpent - 1,
    policy,
    () => failed.jitter,
    failed.failure.retryAfterMs,
  );
  return { retryDelayMs: delay, nextAttemptAt: failed.at + delay };
}
