import { Elysia, t } from "elysia";
import type { Services } from "../../service.ts";
import { insertEvent, listEvents, type EventRow } from "../../store/events.ts";
import { listEventRegistrations } from "../../store/registrations.ts";
import { ticketView } from "../../store/tickets.ts";
import { managedEvent, visibleEvent } from "../access.ts";
import { gate, principalOf } from "../context.ts";
import { jsonStored, runIdempotent } from "../idempotency.ts";
import { validationProblem, type FieldError } from "../problem.ts";
import { CreateEventBody, LIMITS, Page } from "../schemas.ts";
import { parseOffsetDateTime, ticketTextProblem } from "../validation.ts";
import { eventView, registrationView } from "../views.ts";
import { registerRoute } from "./register.ts";

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const START_FORMAT =
  "must be an ISO 8601 date-time with offset, such as 2027-03-01T18:00:00+01:00";

/** Checks the fields that do not depend on the clock and returns the start in epoch ms. */
function checkEvent(body: typeof CreateEventBody.static): number {
  const errors: FieldError[] = [];
  for (const field of ["title", "venue"] as const) {
    const problem = ticketTextProblem(body[field]);
    if (problem !== null) errors.push({ pointer: `/${field}`, detail: problem });
  }
  const startsAt = parseOffsetDateTime(body.starts_at);
  if (startsAt === null) errors.push({ pointer: "/starts_at", detail: START_FORMAT });
  if (!isTimeZone(body.time_zone)) {
    errors.push({ pointer: "/time_zone", detail: "must be an IANA time zone such as Europe/Vienna" });
  }
  if (errors.length > 0 || startsAt === null) throw validationProblem(errors);
  return startsAt;
}

function respondToNewEvent(event: EventRow) {
  return jsonStored(201, eventView(event), { location: `/events/${event.id}` });
}

function page(query: { limit?: number; offset?: number }) {
  return { limit: query.limit ?? LIMITS.pageSize, offset: query.offset ?? 0 };
}

export function eventRoutes(services: Services) {
  return new Elysia()
    .post(
      "/events",
      async ({ body, request }) => {
        const principal = principalOf(request);
        const startsAt = checkEvent(body);

        return runIdempotent(
          services,
          { request, principal, route: "/events", body, required: false },
          async (idempotent) => {
            // Checked under the key, so a replay returns the stored 201 even
            // after the start has passed.
            const now = services.clock.now();
            if (startsAt <= now) {
              throw validationProblem([{ pointer: "/starts_at", detail: "must be in the future" }]);
            }
            const { event, response } = await insertEvent(
              services.db,
              {
                title: body.title,
                venue: body.venue,
                startsAt: new Date(startsAt).toISOString(),
                timeZone: body.time_zone,
                capacity: body.capacity,
                organizerId: principal.id,
              },
              now,
              respondToNewEvent,
              idempotent,
            );
            services.log.info({ eventId: event.id, organizerId: principal.id }, "event created");
            return response;
          },
        );
      },
      {
        transform: gate(services, { auth: true, roles: ["organizer", "admin"], body: true }),
        // Documents the body as JSON; the app-wide parse hook reads it first.
        parse: "json",
        body: CreateEventBody,
      },
    )
    .get(
      "/events",
      async ({ request, query }) => {
        const principal = principalOf(request);
        const events = await listEvents(services.db, {
          ...page(query),
          organizerId: principal.role === "organizer" ? principal.id : undefined,
        });
        return { items: events.map(eventView) };
      },
      { transform: gate(services, { auth: true }), query: Page },
    )
    .get(
      "/events/:id",
      async ({ request, params }) =>
        eventView(await visibleEvent(services, principalOf(request), params.id)),
      { transform: gate(services, { auth: true }), params: t.Object({ id: t.String() }) },
    )
    .get(
      "/events/:id/registrations",
      async ({ request, params, query }) => {
        const event = await managedEvent(services, principalOf(request), params.id);
        const { limit, offset } = page(query);
        const rows = await listEventRegistrations(services.db, event.id, limit, offset);
        const items = [];
        for (const row of rows) {
          items.push(registrationView(row, await ticketView(services.db, row.ticket_id)));
        }
        return { items };
      },
      {
        transform: gate(services, { auth: true, roles: ["organizer", "admin"] }),
        params: t.Object({ id: t.String() }),
        query: Page,
      },
    )
    .use(registerRoute(services));
}
