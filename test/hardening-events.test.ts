import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { parseOffsetDateTime } from "../src/http/validation.ts";
import { openMemoryDatabase } from "../src/store/db.ts";
import { insertEvent } from "../src/store/events.ts";
import { insertUser } from "../src/store/users.ts";
import { startTestService, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) can take seconds on a loaded machine.
setDefaultTimeout(30_000);

let service: TestService;
let organizer: { id: string; email: string; token: string };
let student: { id: string; email: string; token: string };

beforeEach(async () => {
  service = await startTestService();
  organizer = await service.user("organizer");
  student = await service.user("student");
});

afterEach(async () => {
  await service.close();
});

/**
 * Ten minutes after the harness clock's start, 2027-01-10T09:00:00Z, so the
 * clock can pass it while tokens are still valid.
 */
const FUTURE_START = "2027-01-10T10:10:00+01:00";

function eventBody(change: Record<string, unknown> = {}) {
  return {
    title: "Open Day",
    venue: "Main Hall",
    starts_at: FUTURE_START,
    time_zone: "Europe/Vienna",
    capacity: 10,
    ...change,
  };
}

function createEvent(body: unknown, headers: Record<string, string> = {}) {
  return service.request("POST", "/events", { token: organizer.token, body, headers });
}

async function fieldErrors(response: Response): Promise<{ pointer: string; detail: string }[]> {
  expect(response.status).toBe(422);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return ((await response.json()) as { errors: { pointer: string; detail: string }[] }).errors;
}

function eventCount(): number {
  const row = service.services.db
    .query<{ n: number }, []>("SELECT count(*) AS n FROM events")
    .get();
  return row?.n ?? 0;
}

describe("event start", () => {
  const invalid: [string, string][] = [
    ["February 30", "2027-02-30T18:00:00+01:00"],
    ["February 29 of a common year", "2027-02-29T18:00:00Z"],
    ["April 31", "2027-04-31T18:00:00Z"],
    ["month 13", "2027-13-01T18:00:00Z"],
    ["hour 24", "2027-03-01T24:00:00Z"],
    ["minute 60", "2027-03-01T18:60:00Z"],
    ["offset hour 24", "2027-03-01T18:00:00+24:00"],
    ["no offset", "2027-03-01T18:00:00"],
  ];

  test.each(invalid)("%s is 422", async (_case, startsAt) => {
    const errors = await fieldErrors(await createEvent(eventBody({ starts_at: startsAt })));
    expect(errors.map((e) => e.pointer)).toEqual(["/starts_at"]);
    expect(eventCount()).toBe(0);
  });

  test("February 29 of a leap year is accepted", async () => {
    const response = await createEvent(eventBody({ starts_at: "2028-02-29T18:00:00+01:00" }));
    expect(response.status).toBe(201);
    expect(((await response.json()) as { starts_at: string }).starts_at)
      .toBe("2028-02-29T17:00:00.000Z");
  });

  test("start in the past is 422", async () => {
    const errors = await fieldErrors(
      await createEvent(eventBody({ starts_at: "2027-01-10T08:59:59Z" })),
    );
    expect(errors).toEqual([{ pointer: "/starts_at", detail: "must be in the future" }]);
    expect(eventCount()).toBe(0);
  });

  test("start at the clock's now is 422", async () => {
    const now = new Date(service.clock.now()).toISOString();
    const errors = await fieldErrors(await createEvent(eventBody({ starts_at: now })));
    expect(errors.map((e) => e.pointer)).toEqual(["/starts_at"]);
  });

  test("parser reads offsets and fractions", () => {
    expect(parseOffsetDateTime("2027-03-01T18:00+01:00")).toBe(Date.parse("2027-03-01T17:00Z"));
    expect(parseOffsetDateTime("2027-03-01T18:00:00.250Z")).toBe(
      Date.parse("2027-03-01T18:00:00.250Z"),
    );
    expect(parseOffsetDateTime("2027-02-30T18:00:00Z")).toBeNull();
    expect(parseOffsetDateTime("2100-02-29T00:00:00Z")).toBeNull();
    expect(parseOffsetDateTime("2000-02-29T00:00:00Z")).toBe(Date.parse("2000-02-29T00:00:00Z"));
  });
});

describe("event text", () => {
  const invalid: [string, string, string][] = [
    ["spaces only", "   ", "must not be blank"],
    ["tab and newline only", "\t\n", "must not contain control characters"],
    ["control character", "Open\u0007Day", "must not contain control characters"],
    ["undrawable character", "Open Day \u{1F600}", "contains U+1F600, which the ticket fonts cannot draw"],
  ];

  for (const field of ["title", "venue"]) {
    test.each(invalid)(`${field} with %s is 422`, async (_case, text, detail) => {
      const errors = await fieldErrors(await createEvent(eventBody({ [field]: text })));
      expect(errors).toEqual([{ pointer: `/${field}`, detail }]);
      expect(eventCount()).toBe(0);
    });
  }

  test("title in several scripts is accepted", async () => {
    const response = await createEvent(eventBody({ title: "Tag der offenen Tür 開放日 يوم" }));
    expect(response.status).toBe(201);
  });
});

describe("event capacity", () => {
  test.each([0, 1.5, 100_001, -1, "ten"])("%p names the range", async (capacity) => {
    const errors = await fieldErrors(await createEvent(eventBody({ capacity })));
    expect(errors).toEqual([
      { pointer: "/capacity", detail: "must be an integer from 1 to 100000" },
    ]);
  });
});

describe("registration after the start", () => {
  async function register(eventId: string, key: string) {
    return service.request("POST", `/events/${eventId}/registrations`, {
      token: student.token,
      body: {},
      headers: { "idempotency-key": key },
    });
  }

  test("started event is 409 and stored", async () => {
    const eventId = await eventAt(FUTURE_START);
    service.clock.current = Date.parse(FUTURE_START);

    const response = await register(eventId, "late");
    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { type: string; title: string };
    expect(problem.type).toEndWith("/event-started");
    expect(problem.title).toBe("Event started");

    const replay = await register(eventId, "late");
    expect(replay.status).toBe(409);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");

    const event = (await (await service.request("GET", `/events/${eventId}`, {
      token: student.token,
    })).json()) as { seats_left: number };
    expect(event.seats_left).toBe(10);
  });

  test("a moment before the start is accepted", async () => {
    const eventId = await eventAt(FUTURE_START);
    service.clock.current = Date.parse(FUTURE_START) - 1;

    expect((await register(eventId, "just-in-time")).status).toBe(201);
  });

  async function eventAt(startsAt: string): Promise<string> {
    const response = await createEvent(eventBody({ starts_at: startsAt }));
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  }
});

describe("idempotent event creation", () => {
  test("replay returns the stored 201 and one event", async () => {
    const first = await createEvent(eventBody(), { "idempotency-key": "event-1" });
    expect(first.status).toBe(201);
    const firstBody = await first.text();

    const again = await createEvent(eventBody(), { "idempotency-key": "event-1" });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(await again.text()).toBe(firstBody);
    expect(eventCount()).toBe(1);
  });

  test("same key with another body is 422", async () => {
    expect((await createEvent(eventBody(), { "idempotency-key": "event-2" })).status).toBe(201);

    const changed = await createEvent(eventBody({ capacity: 20 }), {
      "idempotency-key": "event-2",
    });
    expect(changed.status).toBe(422);
    expect(((await changed.json()) as { type: string }).type).toEndWith(
      "/idempotency-key-reused",
    );
    expect(eventCount()).toBe(1);
  });

  test("replay after the start still returns the 201", async () => {
    expect((await createEvent(eventBody(), { "idempotency-key": "event-3" })).status).toBe(201);
    service.clock.current = Date.parse(FUTURE_START) + 1;

    const again = await createEvent(eventBody(), { "idempotency-key": "event-3" });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
  });

  test("rejected start releases the key", async () => {
    const past = eventBody({ starts_at: "2027-01-01T00:00:00Z" });
    expect((await createEvent(past, { "idempotency-key": "event-4" })).status).toBe(422);

    service.clock.current = Date.parse("2026-12-01T00:00:00Z");
    organizer.token = await service.login(organizer.email);
    const retry = await createEvent(past, { "idempotency-key": "event-4" });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
  });

  test("without a key each request creates an event", async () => {
    expect((await createEvent(eventBody())).status).toBe(201);
    expect((await createEvent(eventBody())).status).toBe(201);
    expect(eventCount()).toBe(2);
  });
});

describe("insertEvent transaction", () => {
  test("failed response rolls back the event", async () => {
    const db = openMemoryDatabase();
    const organizerRow = await insertUser(
      db,
      { email: "org@example.com", name: "Org", passwordHash: "x", role: "organizer" },
      1,
    );
    const event = {
      title: "Open Day",
      venue: "Main Hall",
      startsAt: "2027-03-01T17:00:00.000Z",
      timeZone: "Europe/Vienna",
      capacity: 5,
      organizerId: organizerRow.id,
    };
    const failing = () => {
      throw new Error("responder failed");
    };

    await expect(insertEvent(db, event, 1, failing, null)).rejects.toThrow("responder failed");
    const row = db.query<{ n: number }, []>("SELECT count(*) AS n FROM events").get();
    expect(row?.n).toBe(0);
    db.close();
  });
});
