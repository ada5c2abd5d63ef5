/**
 * The contract between the dispatcher and the code that performs a machine's
 * named effect actions.
 */
import type { Logger } from "pino";

export type AnyEvent = { type: string } & Record<string, unknown>;

export interface EffectContext {
  effectId: string;
  actorId: string;
  /** How many times this effect has been claimed, this claim included. */
  claims: number;
  /** Aborted at the attempt deadline or at shutdown. */
  signal: AbortSignal;
  log: Logger;
}

/** Runs one kind of effect and turns its outcome into the event its actor receives. */
export interface EffectHandler {
  run(params: unknown, context: EffectContext): Promise<AnyEvent>;
  /** The event for an unexpected error or a deadline the run did not meet. */
  fail(err: unknown, params: unknown, context: EffectContext): AnyEvent;
}

/** Rejects as soon as the signal aborts, even if the promise never settles. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
