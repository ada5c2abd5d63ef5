import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { signTicketToken, type TicketKeys } from "../src/ticket/token.ts";
import { startTestService, type TestService } from "./support/harness.ts";

interface Registration {
  id: string;
  ticket_id: string;
  event_id: string;
}

interface Problem {
  type: string;
  status: number;
  detail: string;
  checked_in_at?: string;
}

let svc: TestService;
let organizer: { id: string; token: string };
let eventId: string;

beforeEach(async () => {
  svc = await startTestService();
  organizer = await svc.user("organizer");
  eventId = await svc.event(organizer.token);
});

afterEach(async () => {
  await svc.close();
});

async function register(name = "Zoë Ångström"): Promise<Registration> {
  const response = await svc.request("POST", `/events/${eventId}/registrations`, {
    token: organizer.token,
    headers: { "idempotency-key": crypto.randomUUID() },
    body: { name, email: `${crypto.randomUUID()}@example.com` },
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Registration;
}

function codeFor(registration: Registration, keys: TicketKeys = svc.services.keys): string {
  return signTicketToken(keys, registration.ticket_id, registration.event_id);
}

function scan(code: string, token = organizer.token, headers: Record<string, string> = {}) {
  return svc.request("POST", "/checkins", { token, body: { code }, headers });
}

describe("check-in", () => {
  test("first scan admits the attendee", async () => {
    const registration = await register();

    const response = await scan(codeFor(registration));

    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      registration_id: registration.id,
      ticket_id: registration.ticket_id,
      event_id: eventId,
      attendee: { name: "Zoë Ångström" },
      checked_in_at: new Date(svc.clock.now()).toISOString(),
    });
    const row = svc.services.db
      .query<{ checked_in_by: string }, [string]>(
        "SELECT checked_in_by FROM checkins WHERE registration_id = ?",
      )
      .get(registration.id);
    expect(row?.checked_in_by).toBe(organizer.id);
  });

  test("second scan is 409 with the first time", async () => {
    const registration = await register();
    const code = codeFor(registration);
    const firstAt = new Date(svc.clock.now()).toISOString();
    expect((await scan(code)).status).toBe(200);

    svc.clock.advance(90_000);
    const again = await scan(code);

    expect(again.status).toBe(409);
    expect(again.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await again.json()) as Problem;
    expect(problem.type).toEndWith("/already-checked-in");
    expect(problem.checked_in_at).toBe(firstAt);
    expect(problem.detail).toContain(firstAt);
  });

  test("forged or altered code is 400", async () => {
    const registration = await register();
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const otherKeys = { ...svc.services.keys, privateKey, publicKey };
    const genuine = codeFor(registration);
    const [version, ticketId, , signature] = genuine.split(".");
    const otherEvent = crypto.randomUUID();

    const codes = [
      codeFor(registration, otherKeys),
      `${version}.${ticketId}.${otherEvent}.${signature}`,
      genuine.slice(0, -2) + (genuine.endsWith("AA") ? "BA" : "AA"),
      "not a ticket",
    ];
    for (const code of codes) {
      const response = await scan(code);
      expect(response.status).toBe(400);
      expect(((await response.json()) as Problem).type).toEndWith("/invalid-ticket-code");
    }
    expect((await scan(genuine)).status).toBe(200);
  });

  test("cancelled registration is 410", async () => {
    const registration = await register();
    const cancelled = await svc.request("DELETE", `/registrations/${registration.id}`, {
      token: organizer.token,
    });
    expect(cancelled.status).toBe(200);

    const response = await scan(codeFor(registration));

    expect(response.status).toBe(410);
    expect(((await response.json()) as Problem).type).toEndWith("/registration-cancelled");
  });

  test("other organizer's ticket is 404", async () => {
    const registration = await register();
    const other = await svc.user("organizer");

    const response = await scan(codeFor(registration), other.token);

    expect(response.status).toBe(404);
    expect((await scan(codeFor(registration))).status).toBe(200);
  });

  test("unknown ticket is 404", async () => {
    const code = signTicketToken(svc.services.keys, crypto.randomUUID(), eventId);
    expect((await scan(code)).status).toBe(404);
  });

  test("admin checks in any event", async () => {
    const registration = await register();
    const admin = await svc.user("admin");
    expect((await scan(codeFor(registration), admin.token)).status).toBe(200);
  });

  test("student is 403", async () => {
    const registration = await register();
    const student = await svc.user("student");

    const response = await scan(codeFor(registration), student.token);

    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toContain("insufficient_scope");
    expect((await scan(codeFor(registration))).status).toBe(200);
  });

  test("repeat under one Idempotency-Key replays", async () => {
    const registration = await register();
    const code = codeFor(registration);

    const first = await scan(code, organizer.token, { "idempotency-key": "door-1" });
    const replay = await scan(code, organizer.token, { "idempotency-key": "door-1" });

    expect(first.status).toBe(200);
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect((await scan(code)).status).toBe(409);
  });

  test("missing code is 422", async () => {
    const response = await svc.request("POST", "/checkins", {
      token: organizer.token,
      body: {},
    });
    expect(response.status).toBe(422);
  });
});
