import { Elysia } from "elysia";
import type { Services } from "../../service.ts";
import { checkIn, type CheckinOutcome, type CheckinRecord } from "../../store/checkins.ts";
import { verifyTicketToken } from "../../ticket/token.ts";
import { gate, principalOf } from "../context.ts";
import { jsonStored, problemStored, runIdempotent } from "../idempotency.ts";
import { ProblemError, badRequest, conflict, notFound } from "../problem.ts";
import { CheckinBody } from "../schemas.ts";

const ROUTE = "/checkins";

function checkinView(checkin: CheckinRecord) {
  return {
    registration_id: checkin.registration_id,
    ticket_id: checkin.ticket_id,
    event_id: checkin.event_id,
    attendee: { name: checkin.attendee_name },
    checked_in_at: new Date(checkin.checked_in_at).toISOString(),
  };
}

function respond(outcome: CheckinOutcome) {
  switch (outcome.kind) {
    case "checked_in":
      return jsonStored(200, checkinView(outcome.checkin));
    case "already_checked_in": {
      const first = new Date(outcome.checkin.checked_in_at).toISOString();
      return problemStored(
        conflict(
          "already-checked-in",
          "Already checked in",
          `This ticket was already checked in at ${first}.`,
          { registration_id: outcome.checkin.registration_id, checked_in_at: first },
        ),
      );
    }
    case "cancelled":
      return problemStored(
        new ProblemError(
          410,
          "registration-cancelled",
          "Registration cancelled",
          "The registration of this ticket was cancelled; the ticket is no longer valid.",
          { extensions: { registration_id: outcome.registrationId } },
        ),
      );
    case "not_found":
      return problemStored(notFound("No ticket of an event you manage matches this code."));
  }
}

/**
 * Door check-in: the scanned QR code is a signed ticket token. Organizers
 * check in tickets of their own events, admins any ticket. Tickets of other
 * organizers' events return 404, like unknown ones, so codes cannot be probed.
 */
export function checkinRoutes(services: Services) {
  return new Elysia().post(
    ROUTE,
    async ({ body, request }) => {
      const principal = principalOf(request);
      const ticket = verifyTicketToken(services.keys.publicKey, body.code);
      if (ticket === null) {
        services.log.warn({ userId: principal.id }, "check-in rejected: invalid ticket code");
        throw badRequest(
          "invalid-ticket-code",
          "The code is not a valid ticket: it is malformed or its signature does not verify.",
        );
      }

      return runIdempotent(
        services,
        { request, principal, route: ROUTE, body, required: false },
        async (idempotent) => {
          const { outcome, response } = await checkIn(
            services.db,
            {
              ticketId: ticket.ticketId,
              eventId: ticket.eventId,
              userId: principal.id,
              organizerId: principal.role === "admin" ? null : principal.id,
            },
            services.clock.now(),
            respond,
            idempotent,
          );

          const ids = { ticketId: ticket.ticketId, eventId: ticket.eventId, userId: principal.id };
          if (outcome.kind === "checked_in") {
            services.log.info(
              { ...ids, registrationId: outcome.checkin.registration_id },
              "attendee checked in",
            );
          } else {
            services.log.info({ ...ids, outcome: outcome.kind }, "check-in rejected");
          }
          return response;
        },
      );
    },
    {
      transform: gate(services, { auth: true, roles: ["organizer", "admin"], body: true }),
      // Documents the body as JSON; the app-wide parse hook reads it first.
      parse: "json",
      body: CheckinBody,
    },
  );
}
