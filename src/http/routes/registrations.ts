import { Elysia, t } from "elysia";
import type { Services } from "../../service.ts";
import {
  cancelRegistration,
  listUserRegistrations,
  resendTicket,
  type CancelOutcome,
  type ResendOutcome,
} from "../../store/registrations.ts";
import { ticketView } from "../../store/tickets.ts";
import { ticketPdfPath } from "../../ticket/files.ts";
import { visibleRegistration } from "../access.ts";
import { gate, principalOf } from "../context.ts";
import { jsonStored, problemStored, runIdempotent } from "../idempotency.ts";
import { ProblemError, notFound } from "../problem.ts";
import { LIMITS, Page } from "../schemas.ts";
import { PENDING_TICKET } from "../../store/tickets.ts";
import { registrationView } from "../views.ts";

const ById = t.Object({ id: t.String() });

export function registrationRoutes(services: Services) {
  const { db } = services;

  return new Elysia()
    .get(
      "/registrations/:id",
      async ({ request, params }) => {
        const { registration } = await visibleRegistration(services, principalOf(request), params.id);
        return registrationView(registration, await ticketView(db, registration.ticket_id));
      },
      { transform: gate(services, { auth: true }), params: ById },
    )
    .get(
      "/registrations/:id/ticket.pdf",
      async ({ request, params }) => {
        const { registration } = await visibleRegistration(services, principalOf(request), params.id);
        const file = Bun.file(ticketPdfPath(services.config.dataDir, registration.id));
        if (registration.status === "cancelled" || !(await file.exists())) {
          throw notFound("The ticket is not ready yet, or the registration was cancelled.");
        }
        return new Response(file, {
          headers: {
            "content-type": "application/pdf",
            "content-disposition": `attachment; filename="ticket-${registration.id}.pdf"`,
            "cache-control": "private, no-store",
          },
        });
      },
      { transform: gate(services, { auth: true }), params: ById },
    )
    .delete(
      "/registrations/:id",
      async ({ request, params }) => {
        const principal = principalOf(request);
        const { registration } = await visibleRegistration(services, principal, params.id);
        const route = "/registrations/:id";

        return runIdempotent(
          services,
          { request, principal, route, body: null, required: false },
          async (idempotent) => {
            const respond = (outcome: CancelOutcome) =>
              outcome.kind === "cancelled"
                ? jsonStored(200, registrationView(outcome.registration, {
                  ...PENDING_TICKET,
                  status: "cancelled",
                }))
                : problemStored(notFound());
            const { outcome, response } = await cancelRegistration(
              db,
              services.engine,
              registration.id,
              services.clock.now(),
              respond,
              idempotent,
            );
            if (outcome.kind === "cancelled") {
              services.dispatcher.notify();
              services.log.info({ registrationId: registration.id }, "registration cancelled");
            }
            return response;
          },
        );
      },
      { transform: gate(services, { auth: true }), params: ById },
    )
    .post(
      "/registrations/:id/resend",
      async ({ request, params }) => {
        const principal = principalOf(request);
        const { registration } = await visibleRegistration(services, principal, params.id);
        const route = "/registrations/:id/resend";

        return runIdempotent(
          services,
          { request, principal, route, body: null, required: true },
          async (idempotent) => {
            const respond = (outcome: ResendOutcome) => {
              if (outcome.kind === "accepted") {
                return jsonStored(202, {
                  registration_id: registration.id,
                  delivery_id: outcome.deliveryId,
                });
              }
              if (outcome.kind === "rate_limited") {
                // A 429 is not stored: throwing rolls the transaction back and
                // frees the key, so the same key works once the window allows.
                const seconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
                throw new ProblemError(
                  429,
                  "too-many-requests",
                  "Too many requests",
                  `This ticket was mailed too often in the last hour; retry in ${seconds} seconds.`,
                  { headers: { "retry-after": String(seconds) } },
                );
              }
              if (outcome.kind === "cancelled") {
                return problemStored(
                  new ProblemError(
                    410,
                    "registration-cancelled",
                    "Registration cancelled",
                    "The registration was cancelled; its ticket cannot be sent.",
                  ),
                );
              }
              return problemStored(notFound());
            };
            const { outcome, response } = await resendTicket(
              db,
              services.engine,
              registration.id,
              services.clock.now(),
              respond,
              idempotent,
            );
            if (outcome.kind === "accepted") {
              services.dispatcher.notify();
              services.log.info(
                { registrationId: registration.id, deliveryId: outcome.deliveryId },
                "ticket resend requested",
              );
            }
            return response;
          },
        );
      },
      { transform: gate(services, { auth: true }), params: ById },
    )
    .get(
      "/me/registrations",
      async ({ request, query }) => {
        const rows = await listUserRegistrations(
          db,
          principalOf(request).id,
          query.limit ?? LIMITS.pageSize,
          query.offset ?? 0,
        );
        const items = [];
        for (const row of rows) items.push(registrationView(row, await ticketView(db, row.ticket_id)));
        return { items };
      },
      { transform: gate(services, { auth: true }), query: Page },
    );
}
