import { Elysia, t } from "elysia";
import type { Services } from "../../service.ts";
import { findEvent } from "../../store/events.ts";
import { registerAttendee, type RegisterOutcome } from "../../store/registrations.ts";
import { findUserByEmail } from "../../store/users.ts";
import { managesEvent } from "../access.ts";
import { gate, principalOf } from "../context.ts";
import type { Principal } from "../guard.ts";
import { jsonStored, problemStored, runIdempotent } from "../idempotency.ts";
import { ProblemError, conflict, notFound, validationProblem } from "../problem.ts";
import { RegisterBody } from "../schemas.ts";
import { ticketTextProblem } from "../validation.ts";
import { PENDING_TICKET } from "../../store/tickets.ts";
import { registrationView } from "../views.ts";

const ROUTE = "/events/:id/registrations";

function respond(outcome: RegisterOutcome) {
  switch (outcome.kind) {
    case "created":
      return jsonStored(201, registrationView(outcome.registration, PENDING_TICKET), {
        location: `/registrations/${outcome.registration.id}`,
      });
    case "event_not_found":
      return problemStored(notFound());
    case "event_started":
      return problemStored(
        conflict(
          "event-started",
          "Event started",
          "The event has already started; registration is closed.",
        ),
      );
    case "event_full":
      return problemStored(
        conflict("event-full", "Event full", "The event has no seats left."),
      );
    case "already_registered":
      return problemStored(
        conflict(
          "already-registered",
          "Already registered",
          "This attendee already has a confirmed registration for the event.",
          { registration_id: outcome.existingId },
        ),
      );
  }
}

/**
 * Resolves the attendee. A student registers only themselves; an organizer
 * (for their own events) or an admin may register anyone.
 */
function attendeeFor(principal: Principal, body: typeof RegisterBody.static) {
  const name = body.name ?? principal.name;
  const email = body.email ?? principal.email;
  const problem = ticketTextProblem(name);
  if (problem !== null) {
    // A default name from the account is reported against the field that would carry it.
    throw validationProblem([{ pointer: "/name", detail: problem }]);
  }
  if (principal.role === "student" && email.toLowerCase() !== principal.email.toLowerCase()) {
    throw new ProblemError(
      403,
      "forbidden",
      "Forbidden",
      "Students may register only themselves.",
    );
  }
  return { name, email };
}

export function registerRoute(services: Services) {
  return new Elysia().post(
    ROUTE,
    async ({ body, request, params }) => {
      const principal = principalOf(request);
      const attendee = attendeeFor(principal, body);

      return runIdempotent(
        services,
        { request, principal, route: ROUTE, body, required: true },
        async (idempotent) => {
          // Organizers may act only on their own events; others' events do not exist for them.
          const event = await findEvent(services.db, params.id);
          const eventId = event !== null && (principal.role === "student" || managesEvent(principal, event))
            ? event.id
            : "";
          const owner = principal.role === "student"
            ? principal.id
            : ((await findUserByEmail(services.db, attendee.email))?.id ?? null);

          const { outcome, response } = await registerAttendee(
            services.db,
            services.engine,
            {
              eventId,
              userId: owner,
              createdBy: principal.id,
              name: attendee.name,
              email: attendee.email,
            },
            services.clock.now(),
            respond,
            idempotent,
          );
          if (outcome.kind === "created") {
            services.dispatcher.notify();
            services.log.info(
              { registrationId: outcome.registration.id, eventId, userId: principal.id },
              "registration created",
            );
          }
          return response;
        },
      );
    },
    {
      transform: gate(services, { auth: true, body: true }),
      // Documents the body as JSON; the app-wide parse hook reads it first.
      parse: "json",
      body: RegisterBody,
      params: t.Object({ id: t.String() }),
    },
  );
}
