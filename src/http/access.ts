import type { Services } from "../service.ts";
import { findEvent, type EventRow } from "../store/events.ts";
import { findRegistration, type RegistrationRow } from "../store/registrations.ts";
import type { Principal } from "./guard.ts";
import { notFound } from "./problem.ts";

/**
 * Ownership rules. A resource hidden from the caller gets 404, not 403, so ids
 * cannot be probed. An organizer reads only the events they created and their
 * registrations, a student only their own registrations, an admin everything.
 * Students read every event, because they need the list to register.
 */

export function managesEvent(principal: Principal, event: EventRow): boolean {
  return principal.role === "admin" || event.organizer_id === principal.id;
}

/** Returns an event the caller may read, or throws 404. */
export async function visibleEvent(services: Services, principal: Principal, id: string) {
  const event = await findEvent(services.db, id);
  if (event === null) throw notFound();
  if (principal.role === "organizer" && event.organizer_id !== principal.id) throw notFound();
  return event;
}

/** Returns an event the caller manages (organizer who made it, or admin), or throws 404. */
export async function managedEvent(services: Services, principal: Principal, id: string) {
  const event = await findEvent(services.db, id);
  if (event === null || !managesEvent(principal, event)) throw notFound();
  return event;
}

/** Returns a registration the caller may see and act on, or throws 404. */
export async function visibleRegistration(
  services: Services,
  principal: Principal,
  id: string,
): Promise<{ registration: RegistrationRow; event: EventRow }> {
  const registration = await findRegistration(services.db, id);
  if (registration === null) throw notFound();
  const event = await findEvent(services.db, registration.event_id);
  if (event === null) throw notFound();

  const allowed =
    principal.role === "admin" ||
    (principal.role === "organizer" && event.organizer_id === principal.id) ||
    registration.user_id === principal.id;
  if (!allowed) throw notFound();
  return { registration, event };
}
