import type { Database } from "bun:sqlite";

/** The data an effect needs to render and mail one ticket. */
export interface TicketData {
  registrationId: string;
  registrationStatus: "confirmed" | "cancelled";
  ticketId: string;
  eventId: string;
  eventTitle: string;
  startsAt: string;
  timeZone: string;
  venue: string;
  attendeeName: string;
  attendeeEmail: string;
}

export async function loadTicketData(
  db: Database,
  registrationId: string,
): Promise<TicketData | null> {
  return db
    .query<TicketData, [string]>(
      `SELECT r.id AS registrationId, r.status AS registrationStatus,
              r.ticket_id AS ticketId, e.id AS eventId, e.title AS eventTitle,
              e.starts_at AS startsAt, e.time_zone AS timeZone, e.venue AS venue,
              r.attendee_name AS attendeeName, r.attendee_email AS attendeeEmail
       FROM registrations r JOIN events e ON e.id = r.event_id
       WHERE r.id = ?`,
    )
    .get(registrationId);
}

export interface AttemptRecord {
  id: number;
  delivery_id: string;
  attempt: number;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  outcome: string | null;
  failure_class: string | null;
  reply_code: number | null;
  reply: string | null;
  error_code: string | null;
  message: string | null;
}

/**
 * Records that an attempt started and returns its row id. A row never finished
 * marks an attempt lost in a crash. The history number is `attempt`, the
 * machine's count including lost claims, but never below the last number plus
 * one, so numbers keep rising after a redrive resets the attempt budget.
 */
export async function startAttempt(
  db: Database,
  deliveryId: string,
  attempt: number,
  now: number,
): Promise<number> {
  return db
    .transaction(() => {
      const row = db
        .query<{ id: number }, [string, number, string, number]>(
          `INSERT INTO delivery_attempts (delivery_id, attempt, started_at)
           VALUES (?, max(?, (SELECT coalesce(max(attempt), 0) + 1
                              FROM delivery_attempts WHERE delivery_id = ?)), ?)
           RETURNING id`,
        )
        .get(deliveryId, attempt, deliveryId, now);
      return row!.id;
    })
    .immediate();
}

export interface AttemptResult {
  outcome: "sent" | "failed" | "deferred";
  failureClass?: string;
  replyCode?: number;
  reply?: string;
  errorCode?: string;
  message?: string;
}

export async function finishAttempt(
  db: Database,
  attemptId: number,
  result: AttemptResult,
  now: number,
): Promise<void> {
  db.transaction(() => {
    db.query(
      `UPDATE delivery_attempts
       SET finished_at = ?, duration_ms = ? - started_at, outcome = ?,
           failure_class = ?, reply_code = ?, reply = ?, error_code = ?, message = ?
       WHERE id = ?`,
    ).run(
      now,
      now,
      result.outcome,
      result.failureClass ?? null,
      result.replyCode ?? null,
      result.reply ?? null,
      result.errorCode ?? null,
      result.message ?? null,
      attemptId,
    );
  }).immediate();
}

export async function listAttempts(db: Database, deliveryId: string): Promise<AttemptRecord[]> {
  return db
    .query<AttemptRecord, [string]>(
      `SELECT id, delivery_id, attempt, started_at, finished_at, duration_ms, outcome,
              failure_class, reply_code, reply, error_code, message
       FROM delivery_attempts WHERE delivery_id = ? ORDER BY id`,
    )
    .all(deliveryId);
}
