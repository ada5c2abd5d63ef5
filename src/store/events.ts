import type { Database } from "bun:sqlite";
import type { StoredResponse } from "./idempotency.ts";
import { storeResponse, type Idempotent, type Responder } from "./registrations.ts";

export interface EventRow {
  id: string;
  title: string;
  venue: string;
  starts_at: string;
  time_zone: string;
  capacity: number;
  seats_taken: number;
  organizer_id: string;
  created_at: number;
}

export interface NewEvent {
  title: string;
  venue: string;
  startsAt: string;
  timeZone: string;
  capacity: number;
  organizerId: string;
}

const COLUMNS =
  "id, title, venue, starts_at, time_zone, capacity, seats_taken, organizer_id, created_at";

/**
 * Inserts an event and, in the same transaction, builds the HTTP response to
 * it and stores that under the idempotency key, if any.
 */
export async function insertEvent(
  db: Database,
  event: NewEvent,
  now: number,
  respond: Responder<EventRow>,
  idempotent: Idempotent | null,
): Promise<{ event: EventRow; response: StoredResponse }> {
  const row: EventRow = {
    id: crypto.randomUUID(),
    title: event.title,
    venue: event.venue,
    starts_at: event.startsAt,
    time_zone: event.timeZone,
    capacity: event.capacity,
    seats_taken: 0,
    organizer_id: event.organizerId,
    created_at: now,
  };
  return db
    .transaction(() => {
      db.query(`INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        row.id,
        row.title,
        row.venue,
        row.starts_at,
        row.time_zone,
        row.capacity,
        row.seats_taken,
        row.organizer_id,
        row.created_at,
      );
      return { event: row, response: storeResponse(db, row, now, respond, idempotent) };
    })
    .immediate();
}

export async function findEvent(db: Database, id: string): Promise<EventRow | null> {
  return db.query<EventRow, [string]>(`SELECT ${COLUMNS} FROM events WHERE id = ?`).get(id);
}

/** Lists events by start time; `organizerId` limits the list to one organizer's events. */
export async function listEvents(
  db: Database,
  options: { organizerId?: string; limit: number; offset: number },
): Promise<EventRow[]> {
  if (options.organizerId !== undefined) {
    return db
      .query<EventRow, [string, number, number]>(
        `SELECT ${COLUMNS} FROM events WHERE organizer_id = ?
         ORDER BY starts_at, id LIMIT ? OFFSET ?`,
      )
      .all(options.organizerId, options.limit, options.offset);
  }
  return db
    .query<EventRow, [number, number]>(
      `SELECT ${COLUMNS} FROM events ORDER BY starts_at, id LIMIT ? OFFSET ?`,
    )
    .all(options.limit, options.offset);
}
