import { Elysia, t } from "elysia";
import type { Services } from "../../service.ts";
import type { AttemptRecord } from "../../store/deliveries.ts";
import {
  discardJob,
  findJob,
  listJobs,
  redriveJob,
  type JobCommandOutcome,
  type JobCursor,
  type JobRow,
} from "../../store/jobs.ts";
import { gate, principalOf } from "../context.ts";
import { jsonStored, problemStored, runIdempotent } from "../idempotency.ts";
import { badRequest, conflict, notFound } from "../problem.ts";
import { LIMITS, PageLimit } from "../schemas.ts";

/**
 * Operator API for mail deliveries ("jobs"): list them by state, inspect one
 * with its attempt history, redrive or discard a dead one. Admins only.
 */

const ById = t.Object({ id: t.String() });

const JobQuery = t.Object({
  state: t.Optional(
    t.Union([
      t.Literal("dead"),
      t.Literal("retrying"),
      t.Literal("scheduled"),
      t.Literal("running"),
    ]),
  ),
  limit: t.Optional(PageLimit),
  cursor: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
});

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** JSON shape of a job, shared by the API and `admit jobs list --json`. */
export function jobView(job: JobRow) {
  return {
    id: job.id,
    registration_id: job.registration_id,
    state: job.state,
    machine_state: job.machine_state,
    attempts: job.attempts,
    next_attempt_at: iso(job.next_attempt_at),
    last_error: job.last_error,
    message_id: job.message_id,
    created_at: iso(job.created_at),
    updated_at: iso(job.updated_at),
  };
}

function attemptView(attempt: AttemptRecord) {
  return {
    attempt: attempt.attempt,
    started_at: iso(attempt.started_at),
    finished_at: iso(attempt.finished_at),
    duration_ms: attempt.duration_ms,
    // An attempt with no outcome never finished: its process stopped mid-send.
    outcome: attempt.outcome ?? "interrupted",
    class: attempt.failure_class,
    reply_code: attempt.reply_code,
    reply: attempt.reply,
    error_code: attempt.error_code,
    message: attempt.message,
  };
}

/** Encodes a page position as an opaque base64url token. */
export function encodeCursor(cursor: JobCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString("base64url");
}

function decodeCursor(token: string): JobCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    parsed = null;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 2 &&
    Number.isSafeInteger(parsed[0]) &&
    typeof parsed[1] === "string"
  ) {
    return { createdAt: parsed[0] as number, id: parsed[1] };
  }
  throw badRequest(
    "invalid-cursor",
    "The cursor is invalid. Pass the `next` value of the previous page.",
  );
}

function notDead(job: JobRow) {
  return conflict(
    "job-not-dead",
    "Job not dead",
    `This job is ${job.state}. Only dead jobs can be retried or discarded.`,
    { state: job.state },
  );
}

function respondWith(status: number) {
  return (outcome: JobCommandOutcome) => {
    if (outcome.kind === "applied") return jsonStored(status, jobView(outcome.job));
    if (outcome.kind === "not_dead") return problemStored(notDead(outcome.job));
    return problemStored(notFound("No job has this id."));
  };
}

export function adminRoutes(services: Services) {
  const { db } = services;
  const adminOnly = gate(services, { auth: true, roles: ["admin"] });

  return new Elysia()
    .get(
      "/admin/jobs",
      async ({ query }) => {
        const page = await listJobs(
          db,
          {
            state: query.state ?? null,
            after: query.cursor === undefined ? null : decodeCursor(query.cursor),
            limit: query.limit ?? LIMITS.pageSize,
          },
          services.clock.now(),
        );
        return {
          items: page.items.map(jobView),
          next: page.next === null ? null : encodeCursor(page.next),
        };
      },
      { transform: adminOnly, query: JobQuery },
    )
    .get(
      "/admin/jobs/:id",
      async ({ params }) => {
        const found = await findJob(db, params.id, services.clock.now());
        if (found === null) throw notFound("No job has this id.");
        return { ...jobView(found.job), attempt_history: found.attempts.map(attemptView) };
      },
      { transform: adminOnly, params: ById },
    )
    .post(
      "/admin/jobs/:id/retry",
      async ({ request, params }) => {
        const principal = principalOf(request);
        return runIdempotent(
          services,
          { request, principal, route: "/admin/jobs/:id/retry", body: null, required: false },
          async (idempotent) => {
            const { outcome, response } = await redriveJob(
              db,
              services.engine,
              params.id,
              services.clock.now(),
              { respond: respondWith(202), idempotent },
            );
            if (outcome.kind === "applied") {
              services.dispatcher.notify();
              services.log.info(
                {
                  jobId: outcome.job.id,
                  registrationId: outcome.job.registration_id,
                  messageId: outcome.job.message_id,
                  userId: principal.id,
                },
                "job redriven",
              );
            }
            return response;
          },
        );
      },
      { transform: adminOnly, params: ById },
    )
    .delete(
      "/admin/jobs/:id",
      async ({ request, params }) => {
        const principal = principalOf(request);
        return runIdempotent(
          services,
          { request, principal, route: "/admin/jobs/:id", body: null, required: false },
          async (idempotent) => {
            const { outcome, response } = await discardJob(
              db,
              services.engine,
              params.id,
              services.clock.now(),
              { respond: respondWith(200), idempotent },
            );
            if (outcome.kind === "applied") {
              services.log.info(
                {
                  jobId: outcome.job.id,
                  registrationId: outcome.job.registration_id,
                  messageId: outcome.job.message_id,
                  userId: principal.id,
                },
                "job discarded",
              );
            }
            return response;
          },
        );
      },
      { transform: adminOnly, params: ById },
    );
}
