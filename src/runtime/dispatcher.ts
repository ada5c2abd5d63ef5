import type { Database } from "bun:sqlite";
import type { Logger } from "pino";
import * as sql from "../store/actors.ts";
import { isBusyError } from "../store/db.ts";
import type { Clock, Engine } from "./engine.ts";

type AnyEvent = { type: string } & Record<string, unknown>;

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

export interface DispatcherOptions {
  db: Database;
  engine: Engine;
  clock: Clock;
  handlers: Readonly<Record<string, EffectHandler>>;
  log: Logger;
  /** Ceiling on one effect run; the lease lasts this long plus a margin. */
  effectTimeoutMs: number;
  /** Effects run at the same time, at most. */
  concurrency: number;
  /** Longest sleep between polls when nothing is due, in milliseconds. */
  idleMs?: number;
}

/** Margin past the effect deadline before another process may reclaim its lease. */
export const LEASE_MARGIN_MS = 5000;

/** Inbox events handled before the loop yields to the HTTP server. */
const EVENTS_PER_ROUND = 200;

export class ShutdownError extends Error {
  readonly code = "SHUTDOWN";
}

/**
 * Moves actors forward: delivers due inbox events one transaction each, and
 * runs due effects under a lease.
 *
 * Invariants kept here:
 * - An inbox row is deleted in the transaction that applies it, so every event
 *   is applied exactly once unless that transaction fails, in which case it
 *   stays due and is applied later.
 * - An effect row is deleted in the transaction that delivers its result, so a
 *   crash mid-effect leaves it in place; once its lease expires it runs again
 *   (at-least-once) and the result reports the lost claims as spent attempts.
 * - A result is applied only while the lease that produced it is still held,
 *   so two runs of one effect never both report back.
 */
export class Dispatcher {
  readonly owner = crypto.randomUUID();
  private readonly running = new Map<string, Promise<void>>();
  private readonly shutdown = new AbortController();
  private stopping = false;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;

  constructor(private readonly options: DispatcherOptions) {}

  start(): void {
    this.loopDone ??= this.loop();
  }

  /** Wakes the loop early, after a commit that made work due. */
  notify(): void {
    this.wake?.();
  }

  /** Number of effects running now. */
  runningCount(): number {
    return this.running.size;
  }

  /**
   * Stops claiming work, lets running effects finish until the deadline, then
   * aborts the rest and releases their leases for the next start.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.notify();
    await this.loopDone;

    const all = Promise.allSettled([...this.running.values()]);
    const timer = new Promise<"timeout">((resolve) => setTimeout(resolve, deadlineMs, "timeout"));
    if ((await Promise.race([all, timer])) === "timeout") {
      this.shutdown.abort(new ShutdownError("the service is shutting down"));
      await all;
    }

    const released = this.options.db
      .transaction(() => sql.releaseLeases(this.options.db, this.owner))
      .immediate();
    this.options.log.info({ released }, "dispatcher stopped");
  }

  /**
   * Applies every due event and runs every due effect to completion, repeating
   * until nothing is due at the clock's current time. For tests with a fake clock.
   */
  async runUntilIdle(maxRounds = 1000): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      const applied = this.applyDueEvents(Number.MAX_SAFE_INTEGER);
      const started = this.startDueEffects();
      await Promise.allSettled([...this.running.values()]);
      if (applied === 0 && started === 0) return;
    }
    throw new Error(`runtime still busy after ${maxRounds} rounds`);
  }

  private async loop(): Promise<void> {
    const idleMs = this.options.idleMs ?? 1000;
    while (!this.stopping) {
      let applied = 0;
      try {
        applied = this.applyDueEvents(EVENTS_PER_ROUND);
        this.startDueEffects();
      } catch (err) {
        this.options.log.error({ err }, "dispatcher round failed");
      }

      const wait = applied >= EVENTS_PER_ROUND ? 0 : this.msUntilDue(idleMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private msUntilDue(idleMs: number): number {
    const next = sql.nextDueAt(this.options.db);
    if (next === null) return idleMs;
    return Math.min(idleMs, Math.max(0, next - this.options.clock.now()));
  }

  /** Applies due inbox events, one transaction each; returns how many were applied. */
  private applyDueEvents(limit: number): number {
    const { db, engine, clock, log } = this.options;
    let applied = 0;

    while (applied < limit) {
      const now = clock.now();
      let row: sql.InboxRow | null = null;
      try {
        row = db
          .transaction(() => {
            const due = sql.selectDueInbox(db, now);
            if (due === null) return null;
            sql.deleteInbox(db, due.id);
            engine.deliver(due.actor_id, JSON.parse(due.event) as AnyEvent, now);
            return due;
          })
          .immediate();
      } catch (err) {
        if (isBusyError(err)) return applied;
        // A transition that throws is a bug in a machine. Drop the event so it
        // cannot block the queue forever, and say so loudly.
        log.error({ err, inboxId: row?.id }, "event could not be applied");
        this.dropPoisonedEvent(now);
        applied++;
        continue;
      }

      if (row === null) return applied;
      applied++;
    }
    return applied;
  }

  private dropPoisonedEvent(now: number): void {
    const { db, log } = this.options;
    db.transaction(() => {
      const due = sql.selectDueInbox(db, now);
      if (due === null) return;
      sql.deleteInbox(db, due.id);
      log.error({ actorId: due.actor_id, event: due.event }, "event dropped");
    }).immediate();
  }

  private startDueEffects(): number {
    if (this.stopping) return 0;
    const { db, clock, concurrency, effectTimeoutMs } = this.options;
    const free = concurrency - this.running.size;
    if (free <= 0) return 0;

    const now = clock.now();
    const leaseUntil = now + effectTimeoutMs + LEASE_MARGIN_MS;
    let claimed: sql.EffectRow[];
    try {
      claimed = db
        .transaction(() => sql.claimEffects(db, this.owner, now, leaseUntil, free))
        .immediate();
    } catch (err) {
      if (isBusyError(err)) return 0;
      throw err;
    }

    for (const row of claimed) {
      const run = this.runEffect(row).finally(() => {
        this.running.delete(row.id);
        this.notify();
      });
      this.running.set(row.id, run);
    }
    return claimed.length;
  }

  private async runEffect(row: sql.EffectRow): Promise<void> {
    const { handlers, log, effectTimeoutMs } = this.options;
    const handler = handlers[row.name];
    const effectLog = log.child({ effectId: row.id, actorId: row.actor_id, effect: row.name });
    if (handler === undefined) {
      effectLog.error("no handler for effect; it stays queued");
      return;
    }

    const signal = AbortSignal.any([
      AbortSignal.timeout(effectTimeoutMs),
      this.shutdown.signal,
    ]);
    const context: EffectContext = {
      effectId: row.id,
      actorId: row.actor_id,
      claims: row.claims,
      signal,
      log: effectLog,
    };
    const params = JSON.parse(row.params) as unknown;

    let event: AnyEvent;
    try {
      event = await raceSignal(handler.run(params, context), signal);
    } catch (err) {
      if (this.shutdown.signal.aborted) {
        // Not the effect's fault: leave it for the next start, uncounted.
        effectLog.warn("effect interrupted by shutdown; released for the next start");
        return;
      }
      effectLog.error({ err }, "effect failed unexpectedly");
      event = handler.fail(err, params, context);
    }

    this.complete(row, { ...event, lostClaims: row.claims - 1 }, effectLog);
  }

  private complete(row: sql.EffectRow, event: AnyEvent, log: Logger): void {
    const { db, engine, clock } = this.options;
    const now = clock.now();
    const applied = db
      .transaction(() => {
        if (!sql.holdsLease(db, row.id, this.owner, row.claims)) return false;
        sql.deleteEffect(db, row.id);
        engine.deliver(row.actor_id, event, now);
        return true;
      })
      .immediate();
    if (!applied) log.warn("effect result dropped: its lease was taken over");
  }
}

/** Rejects as soon as the signal aborts, even if the promise never settles. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
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
