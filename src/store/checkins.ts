import type { Database } from "bun:sqlite";
import { saveResponse, type StoredResponse } from "./idempotency.ts";
import type { Idempotent, Responder } from "./registrations.ts";

/** A registration's check-in at the door. */
export interface CheckinRecord {
  registration_id: string;
  ticket_id: string;
  event_id: string;
  attendee_name: string;
  checked_in_at: number;
  checked_in_by: string;
}

export interface CheckinRequest {
  ticketId: string;
  eventId: string;
  /** The user scanning the ticket. */
  userId: string;
  /** Limits the scan to events of this organizer. Null matches any event. */
  organizerId: string | null;
}

export type CheckinOutcome =
  | { kind: "checked_in"; checkin: CheckinRecord }
  | { kind: "already_checked_in"; checkin: CheckinRecord }
  | { kind: "cancelled"; registrationId: string }
  | { kind: "not_found" };

interface TicketRow {
  registration_id: string;
  ticket_id: string;
  event_id: string;
  attendee_name: string;
  status: "confirmed" | "cancelled";
  organizer_id: string;
  checked_in_at: number | null;
  checked_in_by: string | null;
}

function selectTicket(db: Database, ticketId: string): TicketRow | null {
  return db
    .query<TicketRow, [string]>(
      `SELECT r.id AS registration_id, r.ticket_id, r.event_id, r.attendee_name, r.status,
              e.organizer_id, c.checked_in_at, c.checked_in_by
       FROM registrations r
       JOIN events e ON e.id = r.event_id
       LEFT JOIN checkins c ON c.registration_id = r.id
       WHERE r.ticket_id = ?`,
    )
    .get(ticketId);
}

function record(row: TicketRow, checkedInAt: number, checkedInBy: string): CheckinRecord {
  return {
    registration_id: row.registration_id,
    ticket_id: row.ticket_id,
    event_id: row.event_id,
    attendee_name: row.attendee_name,
    checked_in_at: checkedInAt,
    checked_in_by: checkedInBy,
  };
}

function checkInTransaction(db: Database, input: CheckinRequest, now: number): CheckinOutcome {
  const row = selectTicket(db, input.ticketId);
  // A valid signature over a ticket of another event means the rows disagree
  // with the token; treat it like an unknown ticket.
  if (row === null || row.event_id !== input.eventId) return { kind: "not_found" };
  if (input.organizerId !== null && row.organizer_id !== input.organizerId) {
    return { kind: "not_found" };
  }
  if (row.status === "cancelled") {
    return { kind: "cancelled", registrationId: row.registration_id };
  }
  if (row.checked_in_at !== null && row.checked_in_by !== null) {
    const first = record(row, row.checked_in_at, row.checked_in_by);
    return { kind: "already_checked_in", checkin: first };
  }

  db.query(
    `INSERT INTO checkins (registration_id, checked_in_at, checked_in_by) VALUES (?, ?, ?)`,
  ).run(row.registration_id, now, input.userId);
  return { kind: "checked_in", checkin: record(row, now, input.userId) };
}

/**
 * Checks in the holder of a verified ticket token, in one transaction with
 * the stored idempotent response. The primary key on registration_id allows
 * one check-in per ticket, and a repeat scan returns the first one.
 */
export async function checkIn(
  db: Database,
  input: CheckinRequest,
  now: number,
  respond: Responder<CheckinOutcome>,
  idempotent: Idempotent | null,
): Promise<{ outcome: CheckinOutcome; response: StoredResponse }> {
  return db
    .transaction(() => {
      const outcome = checkInTransaction(db, input, now);
      const response = respond(outcome);
      if (idempotent !== null) {
        saveResponse(db, idempotent.scope, response, now, idempotent.ttlMs);
      }
      return { outcome, response };
    })
    .immediate();
}
