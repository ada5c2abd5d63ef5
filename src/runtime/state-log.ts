import type { Logger } from "pino";
import type { StateChange } from "./engine.ts";

type LogLevel = "info" | "warn";

/** Log lines for the state changes an operator follows, by actor kind and new state. */
const MESSAGES: Record<string, Record<string, [LogLevel, string]>> = {
  delivery: {
    retrying: ["info", "mail retry scheduled"],
    waiting: ["info", "mail waiting for the breaker"],
    dead: ["warn", "mail dead-lettered"],
  },
  ticket: {
    retrying: ["info", "ticket render retry scheduled"],
    dead: ["warn", "ticket render dead-lettered"],
  },
};

/**
 * Logs a retry being scheduled or a job being dead-lettered, with the delay,
 * attempts and last error from the machine's context. Called after the
 * transaction that made the change committed.
 */
export function logStateChange(log: Logger, change: StateChange, now: number): void {
  const message = MESSAGES[change.kind]?.[change.to];
  if (message === undefined || change.from === change.to) return;

  const context = change.context;
  const nextAttemptAt = typeof context.nextAttemptAt === "number" ? context.nextAttemptAt : null;
  const fields = {
    registrationId: change.registrationId,
    [change.kind === "delivery" ? "deliveryId" : "ticketId"]: change.actorId,
    attempts: context.attempts ?? context.renderAttempts,
    lastError: context.lastError,
    delayMs: nextAttemptAt === null ? undefined : Math.max(0, nextAttemptAt - now),
    nextAttemptAt: nextAttemptAt === null ? undefined : new Date(nextAttemptAt).toISOString(),
  };
  log[message[0]](fields, message[1]);
}
