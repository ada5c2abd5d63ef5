import type { Database } from "bun:sqlite";
import type { Logger } from "pino";
import * as sql from "../store/actors.ts";
import { isBusyError } from "../store/db.ts";
import { raceSignal, type AnyEvent, type EffectContext, type EffectHandler } from "./effect.ts";
import type { Clock, Engine, StateChange } from "./engine.ts";
import { logStateChange } from "./state-log.ts";

export type { EffectContext, EffectHandler } from "./effect.ts";

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
  /** Maximum sleep between polls when nothing is due, in milliseconds. */
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
 * Invariants kept here, with the engine and the store:
 * - Every inbox event is applied at least once. Its row is deleted in the
 *   transaction that applies it, so a failed or interrupted transaction leaves
 *   it due. The one exception is an event whose transition throws, from a
 *   machine bug or an unreadable row. It is dropped and logged as an error so
 *   that it cannot block the events queued behind it.
 * - An effect row is deleted in the transaction that applies its result, so a
 *   crash mid-effect leaves it in place and it runs again (at-least-once). A
 *   result whose transition throws is dropped with its row and logged, because
 *   running the effect again would repeat its side effect to no use.
 * - An expired lease is reclaimed: a claim is taken over once the clock passes
 *   its lease_until, which is effectTimeoutMs + LEASE_MARGIN_MS after the
 *   claim. Each claim increments `claims`, and the run that completes reports
 *   the earlier claims as `lostClaims`, which the machines count as spent
 *   attempts. A lease released at shutdown gives its claim back, uncounted.
 * - A result is applied only while the lease that produced it is still held,
 *   so two runs of one effect never both report back.
 * - A duplicate run repeats the same params: a re-sent mail carries the
 *   Message-ID fixed when its delivery actor was created.
 * - A confirmed registration always has live ticket work (an inbox row, a
 *   durable timer or an effect row), a sent delivery, or a dead ticket or
 *   delivery (which an operator may discard). Work is committed with the
 *   snapshot that requests it, and only a final actor's pending work is
 *   deleted. A dropped event or effect result breaks this for its actor only,
 *   and the error log names it.
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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(resolve, deadlineMs, "timeout");
    });
    const outcome = await Promise.race([all, deadline]);
    // A pending deadline timer would keep the process alive after a quick stop.
    clearTimeout(timer);
    if (outcome === "timeout") {
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
    // With every slot busy, due effects cannot start: counting them would spin
    // the loop. A finishing effect wakes it through notify() instead.
    const slotFree = this.running.size < this.options.concurrency;
    const next = sql.nextDueAt(this.options.db, slotFree);
    if (next === null) return idleMs;
    return Math.min(idleMs, Math.max(0, next - this.options.clock.now()));
  }

  /** Applies due inbox events, one transaction each; returns how many were applied. */
  private applyDueEvents(limit: number): number {
    const { db, engine, clock } = this.options;
    let applied = 0;

    while (applied < limit) {
      const now = clock.now();
      // Set inside the transaction, so a failed apply still has its row.
      const current: { row: sql.InboxRow | null } = { row: null };
      let change: StateChange | null = null;
      try {
        change = db.transaction(() => {
          current.row = sql.selectDueInbox(db, now);
          if (current.row === null) return null;
          sql.deleteInbox(db, current.row.id);
          return engine.deliver(current.row.actor_id, JSON.parse(current.row.event) as AnyEvent, now);
        }).immediate();
      } catch (err) {
        if (isBusyError(err)) return applied;
        // A failure before any row was selected is not an event's fault.
        if (current.row === null) throw err;
        this.dropPoisonedEvent(current.row, err);
      }

      if (current.row === null) return applied;
      if (change !== null) logStateChange(this.options.log, change, now);
      applied++;
    }
    return applied;
  }

  /**
   * Deletes an event whose transition throws, because of a bug in a machine
   * or an unreadable row. Left in place it would fail again on every round
   * and block the events queued behind it.
   */
  private dropPoisonedEvent(row: sql.InboxRow, err: unknown): void {
    const { db, log } = this.options;
    db.transaction(() => sql.deleteInbox(db, row.id)).immediate();
    log.error(
      { err, inboxId: row.id, actorId: row.actor_id, event: row.event },
      "event dropped: it could not be applied",
    );
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
      // Keyed by claim too: with a clock that jumps past a lease, this process
      // may hold a newer claim of an effect it is still running.
      const key = `${row.id}#${row.claims}`;
      const run = this.runEffect(row)
        .catch((err: unknown) => {
          this.options.log.error({ err, effectId: row.id }, "effect run failed");
        })
        .finally(() => {
          this.running.delete(key);
          this.notify();
        });
      this.running.set(key, run);
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
    let applied: boolean;
    let change: StateChange | null = null;
    try {
      applied = db
        .transaction(() => {
          if (!sql.holdsLease(db, row.id, this.owner, row.claims)) return false;
          sql.deleteEffect(db, row.id);
          change = engine.deliver(row.actor_id, event, now);
          return true;
        })
        .immediate();
    } catch (err) {
      if (isBusyError(err)) {
        log.warn({ err }, "effect result not applied: database busy; it runs again after its lease");
        return;
      }
      // Kept, the row would run again after every lease and repeat its side
      // effect each time, for a result that can never be applied.
      log.error({ err, event: event.type }, "effect result dropped: it could not be applied");
      db.transaction(() => {
        if (sql.holdsLease(db, row.id, this.owner, row.claims)) sql.deleteEffect(db, row.id);
      }).immediate();
      return;
    }
    if (!applied) log.warn("effect result dropped: its lease was taken over");
    if (change !== null) logStateChange(this.options.log, change, now);
  }
}
