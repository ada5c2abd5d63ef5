import type { Database } from "bun:sqlite";
import type { Engine } from "../runtime/engine.ts";
import { saveResponse, type IdempotencyScope, type StoredResponse } from "./idempotency.ts";

export interface RegistrationRow {
  id: string;
  event_id: string;
  user_id: string | null;
  created_by: string;
  attendee_name: string;
  attendee_email: string;
  ticket_id: string;
  status: "confirmed" | "cancelled";
  created_at: number;
  cancelled_at: number | null;
}

const COLUMNS =
  "id, event_id, user_id, created_by, attendee_name, attendee_email, ticket_id, status, " +
  "created_at, cancelled_at";

export interface NewRegistration {
  eventId: string;
  /** The account the attendee email belongs to, if any: the registration's owner. */
  userId: string | null;
  createdBy: string;
  name: string;
  email: string;
}

export type RegisterOutcome =
  | { kind: "created"; registration: RegistrationRow }
  | { kind: "event_not_found" }
  | { kind: "event_started" }
  | { kind: "event_full" }
  | { kind: "already_registered"; existingId: string };

/** Builds the HTTP response for an outcome, inside the transaction that stores it. */
export type Responder<T> = (outcome: T) => StoredResponse;

/** Idempotency settings for a command that stores its response. */
export interface Idempotent {
  scope: IdempotencyScope;
  ttlMs: number;
}

/**
 * Builds the response to a command's outcome and stores it under the
 * idempotency key, if there is one. Call it inside the command's transaction,
 * so the stored response commits or rolls back with the effect.
 */
export function storeResponse<T>(
  db: Database,
  outcome: T,
  now: number,
  respond: Responder<T>,
  idempotent: Idempotent | null,
): StoredResponse {
  const response = respond(outcome);
  if (idempotent !== null) saveResponse(db, idempotent.scope, response, now, idempotent.ttlMs);
  return response;
}

export function selectRegistration(db: Database, id: string): RegistrationRow | null {
  return db
    .query<RegistrationRow, [string]>(`SELECT ${COLUMNS} FROM registrations WHERE id = ?`)
    .get(id);
}

/**
 * Registers an attendee in one transaction: the seat, the registration row,
 * its registration and ticket actors with the first inbox event, and the
 * stored idempotent response all commit together or not at all. The seat is
 * taken by a conditional UPDATE, so concurrent requests never oversell. An
 * event whose start is at or before `now` takes no more registrations.
 */
export async function registerAttendee(
  db: Database,
  engine: Engine,
  input: NewRegistration,
  now: number,
  respond: Responder<RegisterOutcome>,
  idempotent: Idempotent | null,
): Promise<{ outcome: RegisterOutcome; response: StoredResponse }> {
  return db
    .transaction(() => {
      const outcome = takeSeat(db, engine, input, now);
      return { outcome, response: storeResponse(db, outcome, now, respond, idempotent) };
    })
    .immediate();
}

function takeSeat(
  db: Database,
  engine: Engine,
  input: NewRegistration,
  now: number,
): RegisterOutcome {
  const event = db
    .query<{ starts_at: string }, [string]>(`SELECT starts_at FROM events WHERE id = ?`)
    .get(input.eventId);
  if (event === null) return { kind: "event_not_found" };
  // Registration closes when the event starts. starts_at is stored as UTC ISO 8601.
  if (Date.parse(event.starts_at) <= now) return { kind: "event_started" };

  const existing = db
    .query<{ id: string }, [string, string]>(
      `SELECT id FROM registrations
       WHERE event_id = ? AND lower(attendee_email) = lower(?) AND status = 'confirmed'`,
    )
    .get(input.eventId, input.email);
  if (existing !== null) return { kind: "already_registered", existingId: existing.id };

  const seat = db
    .query(
      `UPDATE events SET seats_taken = seats_taken + 1
       WHERE id = ? AND seats_taken < capacity`,
    )
    .run(input.eventId);
  if (seat.changes === 0) return { kind: "event_full" };

  const registration: RegistrationRow = {
    id: crypto.randomUUID(),
    event_id: input.eventId,
    user_id: input.userId,
    created_by: input.createdBy,
    attendee_name: input.name,
    attendee_email: input.email,
    ticket_id: crypto.randomUUID(),
    status: "confirmed",
    created_at: now,
    cancelled_at: null,
  };
  db.query(`INSERT INTO registrations (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
    registration.id,
    registration.event_id,
    registration.user_id,
    registration.created_by,
    registration.attendee_name,
    registration.attendee_email,
    registration.ticket_id,
    registration.status,
    registration.created_at,
    registration.cancelled_at,
  );

  // The ticket actor must exist before the registration actor's entry action
  // sends it ISSUE through the inbox.
  engine.create(
    "ticket",
    registration.ticket_id,
    registration.id,
    {
      ticketId: registration.ticket_id,
      registrationId: registration.id,
      deliveryId: crypto.randomUUID(),
      messageId: newMessageId(),
    },
    now,
  );
  engine.create(
    "registration",
    registration.id,
    registration.id,
    { registrationId: registration.id, ticketActorId: registration.ticket_id },
    now,
  );
  return { kind: "created", registration };
}

/** Makes a Message-ID in RFC 5322 form, fixed for the life of one delivery. */
export function newMessageId(): string {
  return `<${crypto.randomUUID()}@admit>`;
}

export type CancelOutcome =
  | { kind: "cancelled"; registration: RegistrationRow }
  | { kind: "not_found" };

/**
 * Cancels a registration: frees its seat and cancels every live actor of it in
 * the same transaction, so a delivery that has not started never starts.
 * Cancelling a cancelled registration changes nothing.
 */
export async function cancelRegistration(
  db: Database,
  engine: Engine,
  id: string,
  now: number,
  respond: Responder<CancelOutcome>,
  idempotent: Idempotent | null,
): Promise<{ outcome: CancelOutcome; response: StoredResponse }> {
  return db
    .transaction(() => {
      const outcome = cancelInTransaction(db, engine, id, now);
      return { outcome, response: storeResponse(db, outcome, now, respond, idempotent) };
    })
    .immediate();
}

function cancelInTransaction(
  db: Database,
  engine: Engine,
  id: string,
  now: number,
): CancelOutcome {
  const current = selectRegistration(db, id);
  if (current === null) return { kind: "not_found" };
  if (current.status === "cancelled") return { kind: "cancelled", registration: current };

  db.query(`UPDATE registrations SET status = 'cancelled', cancelled_at = ? WHERE id = ?`).run(
    now,
    id,
  );
  db.query(`UPDATE events SET seats_taken = seats_taken - 1 WHERE id = ?`).run(
    current.event_id,
  );

  const live = db
    .query<{ id: string }, [string]>(
      `SELECT id FROM actors WHERE registration_id = ? AND done = 0`,
    )
    .all(id);
  for (const actor of live) engine.deliver(actor.id, { type: "CANCEL" }, now);

  return {
    kind: "cancelled",
    registration: { ...current, status: "cancelled", cancelled_at: now },
  };
}

/** Mails one registration may be sent in an hour, the first one included. */
export const MAX_DELIVERIES_PER_HOUR = 5;
const HOUR_MS = 3_600_000;

function recentDeliveries(db: Database, registrationId: string, now: number): number {
  const row = db
    .query<{ n: number }, [string, number]>(
      `SELECT count(*) AS n FROM actors
       WHERE registration_id = ? AND kind = 'delivery' AND created_at > ?`,
    )
    .get(registrationId, now - HOUR_MS);
  return row?.n ?? 0;
}

/** Returns when the oldest delivery of the last hour leaves the window. */
function nextDeliverySlot(db: Database, registrationId: string, now: number): number {
  const row = db
    .query<{ oldest: number | null }, [string, number]>(
      `SELECT min(created_at) AS oldest FROM actors
       WHERE registration_id = ? AND kind = 'delivery' AND created_at > ?`,
    )
    .get(registrationId, now - HOUR_MS);
  return (row?.oldest ?? now) + HOUR_MS;
}

export type ResendOutcome =
  | { kind: "accepted"; deliveryId: string }
  | { kind: "rate_limited"; retryAfterMs: number }
  | { kind: "not_found" }
  | { kind: "cancelled" };

/** Starts a new delivery of the ticket, with a new Message-ID. */
export async function resendTicket(
  db: Database,
  engine: Engine,
  id: string,
  now: number,
  respond: Responder<ResendOutcome>,
  idempotent: Idempotent | null,
): Promise<{ outcome: ResendOutcome; response: StoredResponse }> {
  return db
    .transaction(() => {
      let outcome: ResendOutcome;
      const current = selectRegistration(db, id);
      if (current === null) {
        outcome = { kind: "not_found" };
      } else if (current.status === "cancelled") {
        outcome = { kind: "cancelled" };
      } else if (recentDeliveries(db, id, now) >= MAX_DELIVERIES_PER_HOUR) {
        outcome = { kind: "rate_limited", retryAfterMs: nextDeliverySlot(db, id, now) - now };
      } else {
        const deliveryId = crypto.randomUUID();
        engine.deliver(
          current.ticket_id,
          { type: "RESEND", deliveryId, messageId: newMessageId() },
          now,
        );
        outcome = { kind: "accepted", deliveryId };
      }
      return { outcome, response: storeResponse(db, outcome, now, respond, idempotent) };
    })
    .immediate();
}

export async function findRegistration(db: Database, id: string) {
  return selectRegistration(db, id);
}

export async function listEventRegistrations(
  db: Database,
  eventId: string,
  limit: number,
  offset: number,
): Promise<RegistrationRow[]> {
  return db
    .query<RegistrationRow, [string, number, number]>(
      `SELECT ${COLUMNS} FROM registrations WHERE event_id = ?
       ORDER BY created_at, id LIMIT ? OFFSET ?`,
    )
    .all(eventId, limit, offset);
}

export async function listUserRegistrations(
  db: Database,
  userId: string,
  limit: number,
  offset: number,
): Promise<RegistrationRow[]> {
  return db
    .query<RegistrationRow, [string, number, number]>(
      `SELECT ${COLUMNS} FROM registrations WHERE user_id = ?
       ORDER BY created_at, id LIMIT ? OFFSET ?`,
    )
    .all(userId, limit, offset);
}
