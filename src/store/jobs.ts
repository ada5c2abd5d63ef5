import type { Database } from "bun:sqlite";
import type { Engine } from "../runtime/engine.ts";
import { listAttempts, type AttemptRecord } from "./deliveries.ts";
import { saveResponse, type StoredResponse } from "./idempotency.ts";
import type { Idempotent, Responder } from "./registrations.ts";

/**
 * Operator view of mail deliveries ("jobs"): list, inspect, redrive and
 * discard. A job is a durable actor of kind `delivery`. Its counters live in
 * the persisted XState context and are read here with json_extract.
 */

/** Job states an operator can filter by. */
export const JOB_STATES = ["dead", "retrying", "scheduled", "running"] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobRow {
  id: string;
  registration_id: string;
  /**
   * Operator state: `retrying` covers the machine's retrying and waiting
   * (breaker) states, and `sending` splits into `scheduled` and `running` by
   * whether a live lease holds its effect. Final states keep their machine name.
   */
  state: string;
  /** State of the delivery machine, as stored on the actor row. */
  machine_state: string;
  attempts: number;
  next_attempt_at: number | null;
  last_error: string | null;
  message_id: string;
  created_at: number;
  updated_at: number;
}

/** Position after the last job of a page, in list order (created_at, then id). */
export interface JobCursor {
  createdAt: number;
  id: string;
}

export interface JobPage {
  items: JobRow[];
  next: JobCursor | null;
}

/** A sendMail effect under a lease that claimEffects would not yet take over. */
const LIVE_LEASE = `EXISTS (SELECT 1 FROM effects e
  WHERE e.actor_id = a.id AND e.lease_until IS NOT NULL AND e.lease_until >= $now)`;

const SELECT_JOB = `
  SELECT a.id, a.registration_id, a.state AS machine_state,
    CASE
      WHEN a.state = 'sending' AND ${LIVE_LEASE} THEN 'running'
      WHEN a.state = 'sending' THEN 'scheduled'
      WHEN a.state IN ('retrying', 'waiting') THEN 'retrying'
      ELSE a.state
    END AS state,
    coalesce(json_extract(a.snapshot, '$.context.attempts'), 0) AS attempts,
    json_extract(a.snapshot, '$.context.nextAttemptAt') AS next_attempt_at,
    json_extract(a.snapshot, '$.context.lastError') AS last_error,
    json_extract(a.snapshot, '$.context.messageId') AS message_id,
    a.created_at, a.updated_at
  FROM actors a
  WHERE a.kind = 'delivery'`;

const STATE_FILTERS: Record<JobState | "all", string> = {
  all: "",
  dead: "AND a.state = 'dead'",
  retrying: "AND a.state IN ('retrying', 'waiting')",
  scheduled: `AND a.state = 'sending' AND NOT ${LIVE_LEASE}`,
  running: `AND a.state = 'sending' AND ${LIVE_LEASE}`,
};

export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

function selectJob(db: Database, id: string, now: number): JobRow | null {
  return db.query<JobRow, { now: number; id: string }>(`${SELECT_JOB} AND a.id = $id`).get({
    now,
    id,
  });
}

function selectPage(
  db: Database,
  state: JobState | null,
  after: JobCursor | null,
  limit: number,
  now: number,
): JobPage {
  const keyset = after === null ? "" : "AND (a.created_at, a.id) > ($afterCreatedAt, $afterId)";
  const rows = db
    .query<JobRow, Record<string, string | number>>(
      `${SELECT_JOB} ${STATE_FILTERS[state ?? "all"]} ${keyset}
       ORDER BY a.created_at, a.id LIMIT $limit`,
    )
    .all({
      now,
      limit: limit + 1,
      ...(after === null ? {} : { afterCreatedAt: after.createdAt, afterId: after.id }),
    });

  // A row beyond the limit means another page exists.
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const next = rows.length > limit && last !== undefined
    ? { createdAt: last.created_at, id: last.id }
    : null;
  return { items, next };
}

/** Lists jobs in creation order, optionally of one operator state, `limit` at a time. */
export async function listJobs(
  db: Database,
  options: { state: JobState | null; after: JobCursor | null; limit: number },
  now: number,
): Promise<JobPage> {
  return selectPage(db, options.state, options.after, options.limit, now);
}

/** Returns a job with its attempts in start order, or null when no delivery has the id. */
export async function findJob(
  db: Database,
  id: string,
  now: number,
): Promise<{ job: JobRow; attempts: AttemptRecord[] } | null> {
  const job = selectJob(db, id, now);
  if (job === null) return null;
  return { job, attempts: await listAttempts(db, id) };
}

export type JobCommandOutcome =
  | { kind: "applied"; job: JobRow }
  | { kind: "not_found" }
  | { kind: "not_dead"; job: JobRow };

/**
 * Response builder and idempotency settings of an HTTP caller, applied inside
 * the command's transaction.
 */
export interface JobReply {
  respond: Responder<JobCommandOutcome>;
  idempotent: Idempotent | null;
}

/** Delivers REDRIVE or DISCARD to a job, but only while it is dead. */
function applyToDeadJob(
  db: Database,
  engine: Engine,
  id: string,
  event: "REDRIVE" | "DISCARD",
  now: number,
): JobCommandOutcome {
  const job = selectJob(db, id, now);
  if (job === null) return { kind: "not_found" };
  if (job.machine_state !== "dead") return { kind: "not_dead", job };

  engine.deliver(id, { type: event }, now);
  const changed = selectJob(db, id, now);
  if (changed === null) throw new Error(`job ${id} vanished inside its own transaction`);
  return { kind: "applied", job: changed };
}

async function runJobCommand(
  db: Database,
  engine: Engine,
  id: string,
  event: "REDRIVE" | "DISCARD",
  now: number,
  reply?: JobReply,
): Promise<{ outcome: JobCommandOutcome; response?: StoredResponse }> {
  return db
    .transaction(() => {
      const outcome = applyToDeadJob(db, engine, id, event, now);
      if (reply === undefined) return { outcome };

      const response = reply.respond(outcome);
      if (reply.idempotent !== null) {
        saveResponse(db, reply.idempotent.scope, response, now, reply.idempotent.ttlMs);
      }
      return { outcome, response };
    })
    .immediate();
}

/**
 * Redrives a dead job: it goes back to sending with a fresh attempt budget
 * and keeps its Message-ID. The caller wakes the dispatcher after the commit.
 */
export function redriveJob(
  db: Database,
  engine: Engine,
  id: string,
  now: number,
): Promise<{ outcome: JobCommandOutcome }>;
export function redriveJob(
  db: Database,
  engine: Engine,
  id: string,
  now: number,
  reply: JobReply,
): Promise<{ outcome: JobCommandOutcome; response: StoredResponse }>;
export function redriveJob(
  db: Database,
  engine: Engine,
  id: string,
  now: number,
  reply?: JobReply,
) {
  return runJobCommand(db, engine, id, "REDRIVE", now, reply);
}

/** Discards a dead job: it ends in the final state `discarded` and is never sent. */
export function discardJob(
  db: Database,
  engine: Engine,
  id: string,
  now: number,
): Promise<{ outcome: JobCommandOutcome }>;
export function discardJob(
  db: Database,
  engine: Engine,
  id: string,
  now: number,
  reply: JobReply,
): Promise<{ outcome: JobCommandOutcome; response: StoredResponse }>;
export function discardJob(
  db: Database,
  engine: Engine,
  id: string,
  now: number,
  reply?: JobReply,
) {
  return runJobCommand(db, engine, id, "DISCARD", now, reply);
}

/**
 * Redrives up to `limit` dead jobs created after `after`, in one transaction.
 * Callers page on with the returned cursor, so a job that dies again while
 * they work is not redriven twice in one pass.
 */
export async function redriveDeadJobs(
  db: Database,
  engine: Engine,
  after: JobCursor | null,
  limit: number,
  now: number,
): Promise<{ redriven: JobRow[]; next: JobCursor | null }> {
  return db
    .transaction(() => {
      const page = selectPage(db, "dead", after, limit, now);
      const redriven: JobRow[] = [];
      for (const job of page.items) {
        const outcome = applyToDeadJob(db, engine, job.id, "REDRIVE", now);
        if (outcome.kind === "applied") redriven.push(outcome.job);
      }
      return { redriven, next: page.next };
    })
    .immediate();
}
