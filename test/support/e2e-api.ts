/**
 * API fixtures for end-to-end tests: users, events, registrations and the
 * admin jobs view, all over HTTP except seedStudents, which writes the store.
 */

import { hashPassword } from "../../src/auth/passwords.ts";
import { issueToken } from "../../src/auth/tokens.ts";
import { openDatabase } from "../../src/store/db.ts";
import { insertUser } from "../../src/store/users.ts";
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  call,
  expectStatus,
  JWT_SECRET,
  USER_PASSWORD,
  waitFor,
  type ApiResponse,
} from "./e2e.ts";

export async function login(baseUrl: string, email: string, password: string): Promise<string> {
  const body = await expectStatus<{ access_token: string }>(200, baseUrl, "POST", "/auth/login", {
    body: { email, password },
  });
  return body.access_token;
}

export interface User {
  id: string;
  email: string;
  name: string;
  token: string;
}

/** Creates a user as admin with POST /users and logs in as them. */
export async function createUser(
  baseUrl: string,
  adminToken: string,
  role: "student" | "organizer" | "admin",
  email: string,
  name: string,
): Promise<User> {
  const user = await expectStatus<{ id: string }>(201, baseUrl, "POST", "/users", {
    token: adminToken,
    body: { email, name, password: USER_PASSWORD, role },
  });
  return { id: user.id, email, name, token: await login(baseUrl, email, USER_PASSWORD) };
}

export interface EventInput {
  title?: string;
  venue?: string;
  capacity?: number;
}

export interface EventView {
  id: string;
  title: string;
  venue: string;
  capacity: number;
  seats_left: number;
}

export async function createEvent(
  baseUrl: string,
  token: string,
  input: EventInput = {},
): Promise<EventView> {
  return expectStatus<EventView>(201, baseUrl, "POST", "/events", {
    token,
    body: {
      title: input.title ?? "Open Day",
      venue: input.venue ?? "Main Hall",
      // These servers run on the real clock, and events must start in the future.
      starts_at: new Date(Date.now() + 90 * 86_400_000).toISOString(),
      time_zone: "Europe/Vienna",
      capacity: input.capacity ?? 50,
    },
  });
}

/** An admin, an organizer and one event of theirs on a running server. */
export interface World {
  adminToken: string;
  organizer: User;
  event: EventView;
}

export async function createWorld(baseUrl: string, event: EventInput = {}): Promise<World> {
  const adminToken = await login(baseUrl, ADMIN_EMAIL, ADMIN_PASSWORD);
  const organizer = await createUser(
    baseUrl,
    adminToken,
    "organizer",
    `organizer-${crypto.randomUUID().slice(0, 8)}@example.com`,
    "Olga Organizer",
  );
  return { adminToken, organizer, event: await createEvent(baseUrl, organizer.token, event) };
}

/**
 * Inserts `count` students straight into the store of a server that is not
 * running, all with one password hash, and mints their tokens with JWT_SECRET.
 * An argon2id hash and a login verify took about 90 ms each, measured over
 * HTTP on a 2-core machine. Creating hundreds of students that way would use
 * most of a test's time budget, and the registration path stays the same.
 */
export async function seedStudents(dataDir: string, count: number): Promise<User[]> {
  const passwordHash = await hashPassword(USER_PASSWORD);
  const db = openDatabase(dataDir);
  const run = crypto.randomUUID().slice(0, 8);
  const users: User[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const email = `seeded-${run}-${i}@example.com`;
      const name = `Seeded Student ${i}`;
      const row = await insertUser(db, { email, name, passwordHash, role: "student" }, Date.now());
      const { token } = await issueToken(
        { secret: JWT_SECRET, previousSecrets: [], ttlS: 3600, clockSkewS: 30 },
        { id: row.id, role: "student", tokenVersion: row.token_version },
        Math.floor(Date.now() / 1000),
      );
      users.push({ id: row.id, email, name, token });
    }
  } finally {
    db.close();
  }
  return users;
}

export type TicketStatus =
  | "pending"
  | "rendering"
  | "sending"
  | "retrying"
  | "sent"
  | "dead"
  | "cancelled";

export interface RegistrationView {
  id: string;
  event_id: string;
  status: "confirmed" | "cancelled";
  attendee: { name: string; email: string };
  ticket_id: string;
  ticket: {
    status: TicketStatus;
    attempts: number;
    next_attempt_at: string | null;
    last_error: string | null;
  };
}

/**
 * Body of a registration response: the registration on 201, and a problem
 * (with `type`, `title` and a numeric `status`) otherwise.
 */
export type RegisterResult = RegistrationView & { type?: string; title?: string };

/** POST /events/:id/registrations with an Idempotency-Key. */
export function register(
  baseUrl: string,
  token: string,
  eventId: string,
  key: string,
  body: { name?: string; email?: string } = {},
  timeoutMs = 10_000,
): Promise<ApiResponse<RegisterResult>> {
  return call(baseUrl, "POST", `/events/${eventId}/registrations`, {
    token,
    body,
    headers: { "idempotency-key": key },
    timeoutMs,
  });
}

export function getRegistration(baseUrl: string, token: string, id: string) {
  return expectStatus<RegistrationView>(200, baseUrl, "GET", `/registrations/${id}`, { token });
}

/** Reads every registration of an event page by page, as its organizer or an admin. */
export async function listEventRegistrations(
  baseUrl: string,
  token: string,
  eventId: string,
): Promise<RegistrationView[]> {
  const all: RegistrationView[] = [];
  const pageSize = 100;
  // Bounded: an event in these tests never has more than 100 pages.
  for (let offset = 0; offset < 100 * pageSize; offset += pageSize) {
    const page = await expectStatus<{ items: RegistrationView[] }>(
      200,
      baseUrl,
      "GET",
      `/events/${eventId}/registrations?limit=${pageSize}&offset=${offset}`,
      { token },
    );
    all.push(...page.items);
    if (page.items.length < pageSize) break;
  }
  return all;
}

/** A mail delivery as the admin jobs API shows it. */
export interface JobView {
  id: string;
  registration_id: string;
  state: string;
  attempts: number;
  last_error: string | null;
  message_id: string;
}

export interface AttemptView {
  attempt: number;
  outcome: string;
  class: string | null;
  reply_code: number | null;
}

/** Reads the delivery jobs of a registration from GET /admin/jobs, page by page. */
export async function jobsOf(
  baseUrl: string,
  adminToken: string,
  registrationId: string,
): Promise<JobView[]> {
  const jobs: JobView[] = [];
  let cursor: string | null = null;
  // Bounded: these tests never create more than 100 pages of jobs.
  for (let page = 0; page < 100; page++) {
    const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const body: { items: JobView[]; next: string | null } = await expectStatus(
      200,
      baseUrl,
      "GET",
      `/admin/jobs?limit=100${query}`,
      { token: adminToken },
    );
    jobs.push(...body.items.filter((job) => job.registration_id === registrationId));
    cursor = body.next;
    if (cursor === null) break;
  }
  return jobs;
}

/** Polls a registration until its ticket reaches one of `statuses`. */
export function waitForTicket(
  baseUrl: string,
  token: string,
  id: string,
  statuses: readonly TicketStatus[],
  timeoutMs: number,
): Promise<RegistrationView> {
  let last: TicketStatus | undefined;
  return waitFor(
    async () => {
      const registration = await getRegistration(baseUrl, token, id);
      last = registration.ticket.status;
      return statuses.includes(registration.ticket.status) ? registration : undefined;
    },
    {
      timeoutMs,
      condition: () => `ticket of ${id} to be ${statuses.join(" or ")} (last: ${last ?? "none"})`,
    },
  );
}
