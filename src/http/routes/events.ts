import { Elysia, t } from "elysia";
import type { Services } from "../../service.ts";
import { insertEvent, listEvents } from "../../store/events.ts";
import { listEventRegistrations } from "../../store/registrations.ts";
import { ticketView } from "../../store/tickets.ts";
import { managedEvent, visibleEvent } from "../access.ts";
import { gate, principalOf } from "../context.ts";
import { validationProblem, type FieldError } from "../problem.ts";
import { CreateEventBody, LIMITS, Page } from "../schemas.ts";
import { hasForbiddenCharacters } from "../validation.ts";
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

/** Requires an explicit offset, so a start time is never read in the server's zone. */
const OFFSET_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function checkEvent(body: typeof CreateEventBody.static): string {
  const errors: FieldError[] = [];
  for (const field of ["title", "venue"] as const) {
    if (hasForbiddenCharacters(body[field])) {
      errors.push({ pointer: `/${field}`, detail: "must not contain control characters" });
    }
  }
  const startsAt = new Date(body.starts_at);
  if (!OFFSET_DATE_TIME.test(body.starts_at) || Number.isNaN(startsAt.getTime())) {
    errors.push({
      pointer: "/starts_at",
      detail: "must be an ISO 8601 date-time with offset, such as 2027-03-01T18:00:00+01:00",
    });
  }
  if (!isTimeZone(body.time_zone)) {
    errors.push({ pointer: "/time_zone", detail: "must be an IANA time zone such as Europe/Vienna" });
  }
  if (errors.length > 0) throw validationProblem(errors);
  return startsAt.toISOString();
}

function page(query: { limit?: number; offset?: number }) {
  return { limit: query.limit ?? LIMITS.pageSize, offset: query.offset ?? 0 };
}

export function eventRoutes(services: Services) {
  return new Elysia()
    .post(
      "/events",
      async ({ body, request, set }) => {
        const principal = principalOf(request);
        const startsAt = checkEvent(body);
        const event = await insertEvent(
          services.db,
          {
            title: body.title,
            venue: body.venue,
            startsAt,
            timeZone: body.time_zone,
            capacity: body.capacity,
            organizerId: principal.id,
          },
          services.clock.now(),
        );
        services.log.info({ eventId: event.id, organizerId: principal.id }, "event created");
        set.status = 201;
        set.headers.location = `/events/${event.id}`;
        return eventView(event);
      },
      {
        transform: gate(services, { auth: true, roles: ["organizer", "admin"], body: true }),
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
