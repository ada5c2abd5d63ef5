import type { EventRow } from "../store/events.ts";
import type { RegistrationRow } from "../store/registrations.ts";
import type { TicketView } from "../store/tickets.ts";
import type { UserRow } from "../store/users.ts";

/** JSON shapes of the API's resources. Timestamps are ISO 8601 in UTC. */

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function userView(user: UserRow) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    disabled: user.disabled === 1,
    created_at: iso(user.created_at),
  };
}

export function eventView(event: EventRow) {
  return {
    id: event.id,
    title: event.title,
    venue: event.venue,
    starts_at: event.starts_at,
    time_zone: event.time_zone,
    capacity: event.capacity,
    seats_left: event.capacity - event.seats_taken,
    organizer_id: event.organizer_id,
    created_at: iso(event.created_at),
  };
}

export function registrationView(registration: RegistrationRow, ticket: TicketView) {
  return {
    id: registration.id,
    event_id: registration.event_id,
    status: registration.status,
    attendee: { name: registration.attendee_name, email: registration.attendee_email },
    ticket_id: registration.ticket_id,
    ticket: {
      status: ticket.status,
      attempts: ticket.attempts,
      next_attempt_at: ticket.next_attempt_at,
      last_error: ticket.last_error,
      delivery_id: ticket.delivery_id,
      message_id: ticket.message_id,
    },
    created_at: iso(registration.created_at),
    cancelled_at: iso(registration.cancelled_at),
  };
}
